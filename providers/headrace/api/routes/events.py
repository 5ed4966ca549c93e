"""job-monitoring-api (the "Local API"): event ingest, jobs and subjobs, healthz and metrics.

Served under ``/job-monitoring`` (clients change only the base URL). Routes only translate; the
rules live in :mod:`headrace.events` (log, fold, queries), the glue in
:mod:`headrace.api.services.events`.

Ingest writes job records, which Airflow's nearest permission is updating DAG runs
(``DAGs (run): PUT``): users, ops and admins may, viewers may not; API keys need the ``events`` scope
(the sidecar's key has only that one). Reads need the jobs view, like the job-queue's listings.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity
from flask import Response, request

from headrace.api.datamodels.events import Ack, BatchAnswer, EntityList, EntityListQuery, EventBatch
from headrace.api.errors import ApiError
from headrace.api.namespaces import Namespace
from headrace.api.registry import MONITORING_BASE, endpoint
from headrace.api.security import Scope, current_principal, dag, grants, view
from headrace.api.services import events as service
from headrace.events import metrics as event_metrics
from headrace.events.model import MonitoringEvent
from headrace.events.queries import EntityFilter, list_entities

_NS = Namespace.EVENTS
_INGEST = dag("PUT", Scope.EVENTS, DagAccessEntity.RUN)
_READ = view(AccessView.JOBS, Scope.READ)
_BASE = {"base": MONITORING_BASE}


@endpoint(
    "/v1/ingest/events",
    "POST",
    _NS,
    summary="Ingest one event",
    permission=_INGEST,
    body=MonitoringEvent,
    validate_body=False,
    response=Ack,
    errors=(400,),
    **_BASE,
)
def ingest_event(body: Any):
    """Store one event; a repeated ``idempotency_key`` (per site) is accepted and changes nothing.
    A bad event is refused with every bad field named by its dotted path (``event.kind``)."""
    service.ingest_one(body)
    return {"ok": True}


@endpoint(
    "/v1/ingest/events:batch",
    "POST",
    _NS,
    summary="Ingest a batch of events",
    permission=_INGEST,
    body=EventBatch,
    validate_body=False,
    response=BatchAnswer,
    errors=(400,),
    **_BASE,
)
def ingest_batch(body: Any):
    """Up to 10,000 events (a JSON array): every valid item stored, the others reported by index."""
    return service.ingest_batch(body)


def _list(kind: str, entity_type: str, query: EntityListQuery) -> dict[str, Any]:
    if query.site:
        from headrace.api.services import sites

        params = query.model_dump(by_alias=True, exclude_none=True, exclude={"site"}, mode="json")
        return sites.query_site(kind, query.site, {k: str(v) for k, v in params.items()})
    began = time.perf_counter()
    items = list_entities(
        service.event_log().engine,
        EntityFilter(
            entity_type=entity_type,
            start=query.from_,
            end=query.to,
            statuses=service.statuses(query.status),
            app_name=query.app_name,
            site_id=query.site_id,
            limit=query.limit,
        ),
    )
    return {"items": items, "count": len(items), "duration_s": round(time.perf_counter() - began, 6)}


@endpoint(
    "/v1/jobs",
    "GET",
    _NS,
    summary="List jobs",
    permission=_READ,
    query=EntityListQuery,
    response=EntityList,
    **_BASE,
)
def list_jobs(query: EntityListQuery):
    """Jobs newest first (``started_at``, else ``inserted_at``); ``site`` asks another site."""
    return _list("jobs", "job", query)


@endpoint(
    "/v1/subjobs",
    "GET",
    _NS,
    summary="List subjobs",
    permission=_READ,
    query=EntityListQuery,
    response=EntityList,
    **_BASE,
)
def list_subjobs(query: EntityListQuery):
    """Subjobs newest first; ``job_id`` is the parent job."""
    return _list("subjobs", "subjob", query)


def _authenticated() -> bool:
    try:
        principal = current_principal()
    except ApiError:
        return False
    return principal is not None and (principal.kind != "api_key" or grants(principal.scopes, Scope.READ))


@endpoint("/v1/healthz", "GET", _NS, summary="Health", permission=None, **_BASE)
def healthz():
    """Anonymous: status, service, version and each site's status only. With credentials: also the
    database and each site's endpoint and error. 503 when the metadata database is down."""
    from headrace.api.services import sites

    # A header set by another site's health check: answering it must not check the sites again.
    probed = request.headers.get(sites.HEALTH_PROBE_HEADER) is not None
    answer = service.healthz(authenticated=_authenticated(), check_sites=not probed)
    return answer, 200 if answer["status"] == "ok" else 503


@endpoint("/metrics", "GET", _NS, summary="Event log metrics", permission=_READ, **_BASE)
def events_metrics():
    """Prometheus text: events ingested by source and kind, duplicates, rejected, batch sizes and
    append latency (of this api-server process)."""
    return Response(event_metrics.exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
