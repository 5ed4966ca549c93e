"""The scheduler's DagRun listener: events written with the run's state change, never an exception."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _events(engine, entity_id: str) -> list[tuple]:
    from headrace.db.models import MonitoringEvent

    table = MonitoringEvent.__table__
    query = (
        sa.select(table.c.kind, table.c.status, table.c.source, table.c.metrics)
        .where(table.c.entity_id == entity_id)
        .order_by(table.c.id)
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def test_the_listener_publishes_in_the_session_of_the_state_change(migrated_db):
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.utils.sqlalchemy import prohibit_commit

    from headrace.listeners import dag_runs
    from headrace.plugin import HeadracePlugin

    assert dag_runs in HeadracePlugin.listeners  # what makes the scheduler call it
    dag_id = f"listened_{uuid.uuid4().hex[:8]}"
    entity_id = f"airflow:{dag_id}:r1"
    with settings.Session() as session:
        run = DagRun(dag_id=dag_id, run_id="r1", run_type="manual", run_after=T0, start_date=T0)
        run.state = "running"
        session.add(run)
        session.flush()
        dag_runs.on_dag_run_running(dag_run=run, msg="started")
        session.rollback()  # the scheduler's transaction failed: its events are gone with it
    assert _events(settings.engine, entity_id) == []

    with settings.Session() as session, prohibit_commit(session) as guard:
        # The scheduler's session refuses any commit but its own: the listener must not commit it.
        run = DagRun(dag_id=dag_id, run_id="r1", run_type="manual", run_after=T0, start_date=T0)
        run.state = "running"
        session.add(run)
        session.flush()
        dag_runs.on_dag_run_running(dag_run=run, msg="started")
        run.state, run.end_date = "success", T0 + timedelta(seconds=30)
        dag_runs.on_dag_run_success(dag_run=run, msg="success")
        dag_runs.on_dag_run_success(dag_run=run, msg="success")  # called twice: stored once
        assert _events(settings.engine, entity_id) == []  # not committed yet: no event without its change
        guard.commit()
    assert _events(settings.engine, entity_id) == [
        ("started", "running", "airflow", {}),
        ("finished", "succeeded", "airflow", {"duration_s": 30.0}),
    ]


def test_a_failure_in_the_listener_never_reaches_the_scheduler(migrated_db):
    from headrace.listeners import dag_runs

    class Broken:  # not a DagRun at all: the listener logs and returns
        dag_id = run_id = None

    assert dag_runs.publish(Broken()) == 0
