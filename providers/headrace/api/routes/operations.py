"""``GET /metrics``: the workflows-api's system metrics as JSON, or Prometheus text when asked.

Content negotiation on ``Accept``: ``text/plain`` gets the Prometheus text exposition (0.0.4),
``application/openmetrics-text`` OpenMetrics; anything else the JSON of the workflows-api. The
figures come from :mod:`headrace.api.services.operations`.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from flask import Response, request

from headrace.api.datamodels.operations import SystemMetrics
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, view
from headrace.api.services import operations as service

_METRICS = view(AccessView.CLUSTER_ACTIVITY, Scope.READ)


def wants_text(accept: str) -> tuple[bool, bool]:
    """(Prometheus text wanted, OpenMetrics wanted) for an ``Accept`` header."""
    accept = accept.lower()
    openmetrics = "application/openmetrics-text" in accept
    return openmetrics or "text/plain" in accept, openmetrics


@endpoint(
    "/metrics",
    "GET",
    Namespace.METRICS,
    summary="System metrics (JSON), or Prometheus text / OpenMetrics by Accept",
    permission=_METRICS,
    response=SystemMetrics,
    wrap=False,  # the workflows-api answers bare objects
)
def metrics():
    """JSON in the workflows-api shape by default: health, workflow runs today, agents, data
    processed today and the metadata database, each figure computed now from real state (null where it
    cannot be known; see each field).

    With `Accept: text/plain` (Prometheus) or `application/openmetrics-text` (OpenMetrics) the
    answer is the text exposition of every Headrace metric: API requests by route, method and status
    and their latency histogram, ingestion jobs and rows, workflow runs, agents, the binary job queue
    and the event log (see docs/operations.md)."""
    text, openmetrics = wants_text(request.headers.get("Accept", ""))
    if text:
        body, content_type = service.prometheus(openmetrics)
        return Response(body, content_type=content_type)
    return service.system_metrics()
