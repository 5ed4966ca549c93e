"""The binary queue's jobs as monitoring events (source ``job_queue``), written with each state change.

Every queue transition that publishes calls :func:`publish` with the transaction's connection, so a
state change is never committed without its event nor an event without its change. Idempotency keys
are the job id, the attempt and the transition: a retried request that changes nothing publishes
nothing new either. A job is entity ``job`` with id = its UUID, app name = its type, business key =
its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from headrace.events.model import App, Entity, EntityType, EventKind, EventStatus, MonitoringEvent, Occurrence


def event(
    job_id: str,
    job_type: str,
    transition: str,
    *,
    site_id: str,
    kind: EventKind,
    at: datetime,
    status: EventStatus | None = None,
    metrics: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> MonitoringEvent:
    return MonitoringEvent(
        idempotency_key=f"job_queue:{job_id}:{transition}",
        site_id=site_id,
        app=App(name=job_type[:250]),
        entity=Entity(type=EntityType.JOB, id=job_id, business_key=job_id),
        event=Occurrence(kind=kind, at=at, status=status, metrics=metrics or {}, metadata=metadata or {}),
    )


def submitted(job_id: str, job_type: str, priority: str, at: datetime, *, site_id: str) -> MonitoringEvent:
    return event(
        job_id,
        job_type,
        "submitted",
        site_id=site_id,
        kind=EventKind.PROGRESS,
        at=at,
        metadata={"queue_status": "pending", "priority": priority},
    )


def claimed(
    job_id: str, job_type: str, attempt: int, executor_id: str, at: datetime, *, site_id: str
) -> MonitoringEvent:
    return event(
        job_id,
        job_type,
        f"claimed:{attempt}",
        site_id=site_id,
        kind=EventKind.STARTED,
        at=at,
        status=EventStatus.RUNNING,
        metadata={"queue_status": "running", "executor_id": executor_id, "attempt": attempt},
    )


_FINAL = {"completed": EventStatus.SUCCEEDED, "failed": EventStatus.FAILED, "cancelled": EventStatus.CANCELED}


def ended(
    job_id: str,
    job_type: str,
    status: str,
    at: datetime,
    *,
    site_id: str,
    attempt: int | None = None,
    started_at: datetime | None = None,
    executor_id: str | None = None,
    exit_code: int | None = None,
    error_message: str | None = None,
) -> MonitoringEvent:
    """``finished`` succeeded/failed, or ``canceled``: the queue's terminal status ``status``."""
    final = _FINAL[status]
    metadata: dict[str, Any] = {"queue_status": status}
    for name, value in (
        ("attempt", attempt),
        ("executor_id", executor_id),
        ("exit_code", exit_code),
        ("error_message", error_message[:1000] if error_message else None),
    ):
        if value is not None:
            metadata[name] = value
    duration = None if started_at is None else max((at - started_at).total_seconds(), 0.0)
    return event(
        job_id,
        job_type,
        f"ended:{attempt if attempt is not None else 0}",
        site_id=site_id,
        kind=EventKind.CANCELED if final is EventStatus.CANCELED else EventKind.FINISHED,
        at=at,
        status=final,
        metrics={} if duration is None else {"duration_s": duration},
        metadata=metadata,
    )


def requeued(
    job_id: str, job_type: str, attempt: int, executor_id: str | None, at: datetime, *, site_id: str
) -> MonitoringEvent:
    """Rescue put a lost job back: progress, still ``running`` as a job (it will be claimed again)."""
    return event(
        job_id,
        job_type,
        f"requeued:{attempt}",
        site_id=site_id,
        kind=EventKind.PROGRESS,
        at=at,
        status=EventStatus.RUNNING,
        metadata={"queue_status": "pending", "lost_attempt": attempt, "lost_executor_id": executor_id},
    )


def publish(connection: Connection, events: Sequence[MonitoringEvent]) -> None:
    """Append ``events`` inside the caller's transaction (one INSERT batch)."""
    if not events:
        return
    from headrace.events.log import EventLog
    from headrace.events.records import Source

    EventLog(connection.engine).append_with(connection, events, source=Source.JOB_QUEUE)
