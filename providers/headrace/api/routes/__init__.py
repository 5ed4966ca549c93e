"""Route modules; importing them declares their endpoints (see :mod:`headrace.api.registry`)."""

from headrace.api.routes import (  # noqa: F401
    api_keys,
    auth,
    catalog,
    events,
    health,
    ingestion,
    jobs,
    meta,
    pipelines,
    query,
    sites,
    upload,
    webhooks,
    workflows,
)
