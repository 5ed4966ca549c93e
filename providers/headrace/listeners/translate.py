"""Airflow's DagRuns and task instances as monitoring events: a run is a ``job``, a task a ``subjob``.

Pure translation, shared by the scheduler's listener (:mod:`headrace.listeners.dag_runs`) and the
api-server's tracker (:mod:`headrace.listeners.task_instances`): both see the same facts and must
produce the same events with the same idempotency keys, so that whichever publishes first wins and
the other's copy is skipped by the log's unique ``(site_id, idempotency_key)``. Input is any mapping
or object with the attributes of Airflow's ``dag_run`` / ``task_instance`` rows (an ORM object or a
Core row), so the same code serves both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from headrace.events.model import App, Entity, EntityType, EventKind, EventStatus, MonitoringEvent, Occurrence

INGESTION_DAG_ID = "headrace_ingestion"  # headrace.api.services.ingestion_jobs.DAG_ID (not imported: Flask)
WORKFLOW = "workflow"
INGESTION = "ingestion"

RUN_FINISHED = {"success": EventStatus.SUCCEEDED, "failed": EventStatus.FAILED}
TASK_FINISHED = {
    "success": EventStatus.SUCCEEDED,
    "failed": EventStatus.FAILED,
    "upstream_failed": EventStatus.FAILED,
    "skipped": EventStatus.CANCELED,
    "removed": EventStatus.CANCELED,
}
# Waiting states: published as progress; those of a task that already ran once keep it "running".
TASK_WAITING = {
    "scheduled": None,
    "queued": None,
    "up_for_retry": EventStatus.RUNNING,
    "up_for_reschedule": EventStatus.RUNNING,
    "deferred": EventStatus.RUNNING,
    "restarting": EventStatus.RUNNING,
}
_KEY_MAX, _ID_MAX = 200, 250


def _get(source: Any, name: str, default: Any = None) -> Any:
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _state(value: Any) -> str | None:
    """``DagRunState.SUCCESS`` / ``TaskInstanceState.FAILED`` / a plain string -> its value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def bounded(value: str, limit: int) -> str:
    """``value`` if it fits the column, else a stable digest of it (ids of 250 + 250 characters exist)."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()
    return f"{value[: limit - len(digest) - 1]}#{digest}"


def run_entity_id(dag_id: str, run_id: str) -> str:
    return bounded(f"airflow:{dag_id}:{run_id}", _ID_MAX)


def task_entity_id(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    return bounded(f"airflow:{dag_id}:{run_id}:{task_id}:{map_index}", _ID_MAX)


def headrace_kind(dag_id: str, tags: set[str] | frozenset[str] | None) -> str | None:
    """What Headrace made this DAG for: a workflow (tagged), the ingestion DAG, or nothing."""
    from headrace.workflows.builder import HEADRACE_TAG

    if tags and HEADRACE_TAG in tags:
        return WORKFLOW
    return INGESTION if dag_id == INGESTION_DAG_ID else None


def _app(dag_id: str, version: Any) -> App:
    return App(
        app_id=dag_id[:200], name=dag_id[:250], version=None if version is None else str(version)[:100]
    )


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def dag_run_events(
    run: Any, *, site_id: str, version: Any = None, kind: str | None = None, now: datetime | None = None
) -> list[MonitoringEvent]:
    """``started`` once the run has started, plus ``finished`` once it has succeeded or failed.

    A run seen for the first time when it has already ended still yields both, so its job has a
    start and an end; queued runs publish nothing (they have not started).
    """
    dag_id, run_id = _get(run, "dag_id"), _get(run, "run_id")
    state = _state(_get(run, "state"))
    start, end = _aware(_get(run, "start_date")), _aware(_get(run, "end_date"))
    if state not in ("running", *RUN_FINISHED):
        return []
    moment = now or datetime.now(UTC)
    start = start or moment
    entity = Entity(
        type=EntityType.JOB, id=run_entity_id(dag_id, run_id), business_key=run_id[:250], sub_key=None
    )
    base = f"airflow:dr:{dag_id}:{run_id}:{_get(run, 'clear_number', 0) or 0}"
    metadata = {
        "dag_id": dag_id,
        "run_id": run_id,
        "run_type": _state(_get(run, "run_type")),
        "logical_date": _iso(_aware(_get(run, "logical_date"))),
        "airflow_state": state,
        "headrace": kind,
    }
    app, site = _app(dag_id, version), site_id
    events = [
        MonitoringEvent(
            idempotency_key=bounded(f"{base}:running", _KEY_MAX),
            site_id=site,
            app=app,
            entity=entity,
            event=Occurrence(
                kind=EventKind.STARTED,
                at=start,
                status=EventStatus.RUNNING,
                metadata={**metadata, "airflow_state": "running"},
            ),
        )
    ]
    if state in RUN_FINISHED:
        end = end or moment
        duration = _duration(start, end)
        events.append(
            MonitoringEvent(
                idempotency_key=bounded(f"{base}:{state}", _KEY_MAX),
                site_id=site,
                app=app,
                entity=entity,
                event=Occurrence(
                    kind=EventKind.FINISHED,
                    at=end,
                    status=RUN_FINISHED[state],
                    metrics={} if duration is None else {"duration_s": duration},
                    metadata=metadata,
                ),
            )
        )
    return events


def task_instance_events(ti: Any, *, site_id: str, version: Any = None) -> list[MonitoringEvent]:
    """The events one task-instance state says: started / finished / progress (none for no state).

    A try seen only once it has ended yields its ``started`` too (when it has a start date).
    """
    dag_id, run_id, task_id = _get(ti, "dag_id"), _get(ti, "run_id"), _get(ti, "task_id")
    map_index = int(_get(ti, "map_index", -1) if _get(ti, "map_index") is not None else -1)
    try_number = int(_get(ti, "try_number", 0) or 0)
    state = _state(_get(ti, "state"))
    if state is None or state not in {"running", *TASK_FINISHED, *TASK_WAITING}:
        return []
    start, end = _aware(_get(ti, "start_date")), _aware(_get(ti, "end_date"))
    updated = _aware(_get(ti, "updated_at")) or end or start or datetime.now(UTC)
    entity = Entity(
        type=EntityType.SUBJOB,
        id=task_entity_id(dag_id, run_id, task_id, map_index),
        parent_id=run_entity_id(dag_id, run_id),
        business_key=run_id[:250],
        sub_key=bounded(task_id if map_index < 0 else f"{task_id}[{map_index}]", _ID_MAX),
    )
    metadata = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "operator": _get(ti, "custom_operator_name") or _get(ti, "operator"),
        "airflow_state": state,
        "hostname": _get(ti, "hostname") or None,
    }
    base = f"airflow:ti:{dag_id}:{run_id}:{task_id}:{map_index}:{try_number}"
    app = _app(dag_id, version)

    def event(state_key: str, occurrence: Occurrence) -> MonitoringEvent:
        key = bounded(f"{base}:{state_key}", _KEY_MAX)
        return MonitoringEvent(idempotency_key=key, site_id=site_id, app=app, entity=entity, event=occurrence)

    if state in TASK_WAITING:
        return [
            event(
                state,
                Occurrence(
                    kind=EventKind.PROGRESS, at=updated, status=TASK_WAITING[state], metadata=metadata
                ),
            )
        ]
    events = []
    if start is not None:
        events.append(
            event(
                "running",
                Occurrence(
                    kind=EventKind.STARTED,
                    at=start,
                    status=EventStatus.RUNNING,
                    metadata={**metadata, "airflow_state": "running"},
                ),
            )
        )
    if state in TASK_FINISHED:
        end = end or updated
        duration = _get(ti, "duration")
        if duration is None:
            duration = _duration(start, end)
        events.append(
            event(
                state,
                Occurrence(
                    kind=EventKind.FINISHED,
                    at=end,
                    status=TASK_FINISHED[state],
                    metrics={} if duration is None else {"duration_s": max(float(duration), 0.0)},
                    metadata=metadata,
                ),
            )
        )
    return events
