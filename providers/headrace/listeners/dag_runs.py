"""The DagRun listener: each run that starts, succeeds or fails becomes a ``job`` event at once.

Where it runs: Airflow 3.3 calls ``on_dag_run_running/success/failed`` in the **scheduler**
(``DagRun.notify_dagrun_state_changed``, inside the scheduler's session, before it commits) and in
the **api-server** when a run is marked success/failed through the public API. Both have the
metadata database, so the events are written on the connection of the caller's own session, in a
SAVEPOINT: they commit with the state change (a rolled-back change leaves no event), and a failure
here rolls back the savepoint only, is logged, and never reaches the scheduler. The api-server's tracker
(:mod:`headrace.listeners.task_instances`) re-reads changed runs and publishes the same events with
the same idempotency keys, so a run the listener missed (listener failed, plugin not loaded) still
appears, and one it did not miss is not doubled.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import object_session

from headrace.listeners.translate import dag_run_events, headrace_kind

log = logging.getLogger(__name__)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    publish(dag_run)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    publish(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    publish(dag_run)


def publish(dag_run: Any) -> int:
    """Publish the run's events; returns how many were new. Never raises (logs instead)."""
    try:
        session = object_session(dag_run)
        if session is None:
            from airflow import settings

            with settings.engine.begin() as connection:
                return _publish(connection, dag_run)
        # A Core SAVEPOINT on the session's connection: the ORM session never sees a commit (the
        # scheduler's session refuses any: "UNEXPECTED COMMIT - THIS WILL BREAK HA LOCKS!").
        connection = session.connection()
        with connection.begin_nested():
            return _publish(connection, dag_run)
    except Exception:
        log.exception("Headrace could not publish the events of DagRun %s", getattr(dag_run, "run_id", "?"))
        return 0


def _publish(connection: Connection, dag_run: Any) -> int:
    from airflow.models.dag import DagTag
    from airflow.models.dag_version import DagVersion

    from headrace import config
    from headrace.events.log import EventLog
    from headrace.events.records import Source

    version = None
    if getattr(dag_run, "created_dag_version_id", None) is not None:
        version = connection.execute(
            select(DagVersion.version_number).where(DagVersion.id == dag_run.created_dag_version_id)
        ).scalar()
    tags = set(connection.execute(select(DagTag.name).where(DagTag.dag_id == dag_run.dag_id)).scalars())
    events = dag_run_events(
        dag_run,
        site_id=config.monitoring_site_id(),
        version=version,
        kind=headrace_kind(dag_run.dag_id, tags),
    )
    if not events:
        return 0
    return len(EventLog(connection.engine).append_with(connection, events, source=Source.AIRFLOW).stored)
