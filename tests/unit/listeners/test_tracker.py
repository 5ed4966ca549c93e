"""The api-server's tracker on a real migrated Airflow database: every run and task shows up, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_db):
    from airflow import settings

    from headrace.db.models import EventCursor

    with settings.engine.begin() as connection:  # each test starts from an empty watermark
        connection.execute(sa.delete(EventCursor.__table__))
    return settings.engine


@pytest.fixture
def dag_id() -> str:
    return f"tracked_{uuid.uuid4().hex[:8]}"


def _run(engine, dag_id: str, run_id: str, **fields) -> None:
    from airflow.models.dagrun import DagRun

    values = {"dag_id": dag_id, "run_id": run_id, "run_type": "manual", "run_after": T0, **fields}
    with engine.begin() as connection:
        connection.execute(sa.insert(DagRun.__table__).values(values))


def _ti(engine, dag_id: str, run_id: str, task_id: str, **fields) -> None:
    from airflow.models.taskinstance import TaskInstance

    values = {
        "id": uuid.uuid4(),
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "pool": "default_pool",
        "try_number": 1,
        "operator": "BashOperator",
        **fields,
    }
    with engine.begin() as connection:
        connection.execute(sa.insert(TaskInstance.__table__).values(values))


def _update(engine, table, where, **values) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(table).where(*where).values(values))


def _events(engine, dag_id: str) -> list[tuple[str, str, str | None]]:
    from headrace.db.models import MonitoringEvent

    table = MonitoringEvent.__table__
    query = (
        sa.select(table.c.entity_id, table.c.kind, table.c.status)
        .where(table.c.app_name == dag_id)
        .order_by(table.c.id)
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _tracked(engine, dag_id: str) -> dict[str, dict]:
    from headrace.db.models import TrackedEntity

    table = TrackedEntity.__table__
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table).where(table.c.app_name == dag_id)).mappings().all()
    return {row["entity_id"]: dict(row) for row in rows}


def tracker(engine, **options):
    from headrace.listeners.task_instances import Tracker

    return Tracker(engine, site_id="local", **options)


def test_a_run_and_its_tasks_become_a_job_with_subjobs(engine, dag_id):
    from airflow.models.taskinstance import TaskInstance

    _run(engine, dag_id, "r1", state="running", start_date=T0)
    _ti(engine, dag_id, "r1", "extract", state="success", start_date=T0, end_date=T0 + timedelta(seconds=3))
    _ti(engine, dag_id, "r1", "load", state="running", start_date=T0 + timedelta(seconds=3))
    tracker(engine).sweep()
    job = f"airflow:{dag_id}:r1"
    tracked = _tracked(engine, dag_id)
    assert tracked[job]["status"] == "running"
    assert tracked[f"{job}:extract:-1"]["status"] == "succeeded"
    assert tracked[f"{job}:extract:-1"]["duration_s"] == pytest.approx(3.0)
    assert tracked[f"{job}:extract:-1"]["parent_id"] == job
    assert tracked[f"{job}:load:-1"]["status"] == "running"

    # The task ends later: the next sweep sees the change (updated_at moves on) and only that.
    table = TaskInstance.__table__
    _update(
        engine,
        table,
        [table.c.dag_id == dag_id, table.c.task_id == "load"],
        state="failed",
        end_date=T0 + timedelta(seconds=10),
    )
    before = len(_events(engine, dag_id))
    tracker(engine).sweep()
    assert len(_events(engine, dag_id)) == before + 1
    assert _tracked(engine, dag_id)[f"{job}:load:-1"]["status"] == "failed"


def test_sweeping_again_doubles_nothing(engine, dag_id):
    _run(engine, dag_id, "r1", state="success", start_date=T0, end_date=T0 + timedelta(seconds=9))
    _ti(engine, dag_id, "r1", "only", state="success", start_date=T0, end_date=T0 + timedelta(seconds=8))
    first = tracker(engine)
    first.sweep()
    events = _events(engine, dag_id)
    assert sorted(kind for _, kind, _ in events) == ["finished", "finished", "started", "started"]
    # Same tracker again, a second api-server, and one that starts over (no watermark): no doubles.
    first.sweep()
    tracker(engine).sweep()
    from headrace.db.models import EventCursor

    with engine.begin() as connection:
        connection.execute(sa.delete(EventCursor.__table__))
    tracker(engine).sweep()
    assert _events(engine, dag_id) == events
    job = _tracked(engine, dag_id)[f"airflow:{dag_id}:r1"]
    assert (job["status"], job["duration_s"]) == ("succeeded", pytest.approx(9.0))


def test_the_watermark_survives_a_restart_and_pages_through_everything(engine, dag_id):
    from headrace.db.models import EventCursor
    from headrace.listeners.task_instances import TI_CURSOR

    _run(engine, dag_id, "r1", state="running", start_date=T0)
    for number in range(7):  # more rows than one page
        _ti(engine, dag_id, "r1", f"t{number}", state="queued")
    tracker(engine, page=3).sweep()
    assert len(_events(engine, dag_id)) == 1 + 7
    with engine.connect() as connection:
        position = connection.execute(
            sa.select(EventCursor.__table__.c.position).where(EventCursor.__table__.c.name == TI_CURSOR)
        ).scalar()
    assert position is not None
    # A new process (restart) reads only what changed since, less the overlap: an old row is not re-read.
    _ti(engine, dag_id, "r1", "late", state="queued")
    assert tracker(engine, overlap=timedelta(0)).sweep() == 1


def test_runs_of_headrace_workflows_say_so(engine, dag_id):
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.dagbundle import DagBundleModel

    from headrace.db.models import MonitoringEvent
    from headrace.workflows.builder import HEADRACE_TAG

    with engine.begin() as connection:
        if (
            connection.execute(sa.select(DagBundleModel.__table__).where(DagBundleModel.name == "b")).first()
            is None
        ):
            connection.execute(sa.insert(DagBundleModel.__table__).values(name="b"))
        connection.execute(
            sa.insert(DagModel.__table__).values(
                dag_id=dag_id,
                bundle_name="b",
                max_active_tasks=16,
                max_consecutive_failed_dag_runs=0,
                has_task_concurrency_limits=False,
            )
        )
        connection.execute(sa.insert(DagTag.__table__).values(dag_id=dag_id, name=HEADRACE_TAG))
    _run(engine, dag_id, "r1", state="running", start_date=T0)
    _run(engine, f"{dag_id}_plain", "r1", state="running", start_date=T0)
    tracker(engine).sweep()
    table = MonitoringEvent.__table__
    with engine.connect() as connection:
        kinds = dict(
            connection.execute(
                sa.select(table.c.app_name, table.c.metadata).where(
                    table.c.app_name.in_([dag_id, f"{dag_id}_plain"])
                )
            ).all()
        )
    assert kinds[dag_id]["headrace"] == "workflow"
    assert kinds[f"{dag_id}_plain"]["headrace"] is None
