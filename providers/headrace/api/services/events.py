"""The event routes' glue: validation item by item, the log on Airflow's metadata database."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from headrace import __version__
from headrace.api import sessions
from headrace.api.errors import BadRequest, RequestValidationError
from headrace.api.services import health
from headrace.events.log import AppendResult, EventLog
from headrace.events.model import EventStatus, MonitoringEvent, cross_field_errors

MAX_BATCH = 10_000
_EVENT = TypeAdapter(MonitoringEvent)
_STATUSES = {s.value for s in EventStatus}


def event_log() -> EventLog:
    from airflow import settings as airflow_settings

    return EventLog(airflow_settings.engine)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validate(item: Any) -> tuple[MonitoringEvent | None, list[dict[str, str]]]:
    """The event, or every bad field with its dotted path (``event.kind``)."""
    try:
        event = _EVENT.validate_python(item)
    except ValidationError as exc:
        return None, [{"field": _dotted(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    errors = [{"field": f, "message": m} for f, m in cross_field_errors(event)]
    return (None, errors) if errors else (event, [])


def ingest_one(payload: Any) -> AppendResult:
    event, errors = validate(payload)
    if event is None:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise RequestValidationError(f"Validation failed: {summary}", details=errors)
    return _append([event])


def _append(events: Iterable[MonitoringEvent]) -> AppendResult:
    """Append in a transaction of the request's session: its connection is already checked out
    (or will be, for the request statistics), so the append costs no pool checkout of its own."""
    with sessions.transaction() as session:
        return event_log().append_with(session.connection(), events)


def ingest_batch(payload: Any) -> dict[str, Any]:
    """Store every valid item, report the others by index; one bad item never blocks the rest."""
    if not isinstance(payload, list):
        raise BadRequest("The body must be a JSON array of events")
    if len(payload) > MAX_BATCH:
        raise BadRequest(f"At most {MAX_BATCH} events per batch, got {len(payload)}")
    rejected: list[dict[str, Any]] = []

    def valid() -> Iterator[MonitoringEvent]:
        # Read by the log one at a time: each event is turned into its row and dropped, so a batch
        # never holds 10,000 models (and the garbage collector does not walk them).
        for index, item in enumerate(payload):
            event, errors = validate(item)
            if event is None:
                rejected.append({"index": index, "errors": errors})
            else:
                yield event

    result = _append(valid())
    if rejected:
        from headrace.events.metrics import REJECTED

        REJECTED.inc(len(rejected))
    return {
        "ok": not rejected,
        "stored": len(result.stored),
        "duplicates": result.duplicates,
        "rejected": rejected,
    }


def statuses(text: str | None) -> list[str]:
    if not text:
        return []
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in _STATUSES]
    if bad:
        raise RequestValidationError.for_field(
            "status", f"unknown status {', '.join(bad)}; expected {', '.join(sorted(_STATUSES))}"
        )
    return values


def healthz(*, authenticated: bool, check_sites: bool) -> dict[str, Any]:
    """The job-monitoring health answer; anonymous callers learn no hosts, paths or error text."""
    from headrace.api.services import sites

    ok = health.check_metadata_db().status == health.OK
    site_health = sites.sites_health(authenticated=authenticated) if check_sites else {}
    answer: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "service": "job-monitoring",
        "version": __version__,
        "sites": site_health
        if authenticated
        else {name: {"status": site["status"]} for name, site in site_health.items()},
    }
    if authenticated:
        answer["database"] = "connected" if ok else "disconnected"
    return answer
