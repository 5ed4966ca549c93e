"""Route modules; importing them declares their endpoints (see :mod:`headrace.api.registry`)."""

from headrace.api.routes import api_keys, auth, catalog, health, ingestion, meta, query, upload  # noqa: F401
