"""``GET /health`` and ``GET /healthz``: no credentials, 503 when a required component is down.

Probes are anonymous, so an anonymous caller gets the statuses only; the details (errors, latencies,
the scheduler's heartbeat, the version) go to callers that send valid credentials.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime

from headrace import __version__, config
from headrace.api.datamodels.health import ComponentHealth, HealthResponse
from headrace.api.errors import ApiError
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, current_principal, grants
from headrace.api.services import health

_STARTED = time.monotonic()
# /health speaks lakehouse-api and job-queue-api ("healthy"), /healthz job-monitoring-api ("ok").
_HEALTH_WORDS = {health.OK: "healthy", health.DEGRADED: "degraded", health.DOWN: "unhealthy"}


def _report(words: dict[str, str] | None) -> tuple[HealthResponse | dict, int]:
    components = {
        "metadata_db": health.check_metadata_db(),
        "scheduler": health.check_scheduler(),
        "storage": health.check_storage_root(config.storage_root()),
        "catalog_db": health.check_catalog_db(config.catalog_uri()),
    }
    status = health.overall(components)
    answer = HealthResponse(
        status=words[status] if words else status,
        version=__version__,
        environment=config.environment(),
        timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        uptime=round(time.monotonic() - _STARTED, 3),
        database="connected" if components["metadata_db"].status == health.OK else "disconnected",
        components={name: ComponentHealth(**asdict(c)) for name, c in components.items()},
    )
    return answer if _may_see_details() else answer.public(), 503 if status == health.DOWN else 200


def _may_see_details() -> bool:
    """Valid credentials that may read; bad ones get the anonymous answer, not a 401 for a probe."""
    try:
        principal = current_principal()
    except ApiError:
        return False
    if principal is None:
        return False
    return principal.kind != "api_key" or grants(principal.scopes, Scope.READ)


_DOC = {
    "permission": None,
    "response": HealthResponse,
    "extra_responses": {503: "A required component is down"},
}


@endpoint("/health", "GET", Namespace.HEALTH, summary="Health (healthy / degraded / unhealthy)", **_DOC)
def get_health():
    """Status of the metadata DB, scheduler heartbeat, storage root and catalog DB.

    Anonymous callers get the statuses; callers with credentials also get `version` and each
    component's `error`, `latency_ms` and `latest_heartbeat`.
    """
    return _report(_HEALTH_WORDS)


@endpoint("/healthz", "GET", Namespace.HEALTH, summary="Health (ok / degraded / down)", **_DOC)
def get_healthz():
    """The same checks as ``/health``, worded as job-monitoring-api's ``/healthz``."""
    return _report(None)
