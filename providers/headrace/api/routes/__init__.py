"""Route modules; importing them declares their endpoints (see :mod:`headrace.api.registry`)."""

from headrace.api.routes import api_keys, auth, health, meta  # noqa: F401
