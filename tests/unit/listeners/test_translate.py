"""Airflow's runs and task instances as the events users read in ``/v1/jobs`` and ``/v1/subjobs``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def dag_run():
    from airflow.models.dagrun import DagRun

    run = DagRun(
        dag_id="sales",
        run_id="manual__1",
        run_type="manual",
        state="success",
        logical_date=T0,
        run_after=T0,
        start_date=T0,
    )
    run.end_date = T0 + timedelta(seconds=42)
    return run


def test_a_finished_run_is_a_started_and_a_finished_job_event(dag_run):
    from headrace.listeners.translate import dag_run_events

    started, finished = dag_run_events(dag_run, site_id="paris", version=3, kind="workflow")
    assert started.entity.id == finished.entity.id == "airflow:sales:manual__1"
    assert started.entity.type == "job" and started.entity.business_key == "manual__1"
    assert started.app.model_dump() == {"app_id": "sales", "name": "sales", "version": "3"}
    assert (started.event.kind, started.event.status, started.event.at) == ("started", "running", T0)
    assert (finished.event.kind, finished.event.status) == ("finished", "succeeded")
    assert finished.event.at == T0 + timedelta(seconds=42)
    assert finished.event.metrics == {"duration_s": 42.0}
    assert finished.event.metadata == {
        "dag_id": "sales",
        "run_id": "manual__1",
        "run_type": "manual",
        "logical_date": T0.isoformat(),
        "airflow_state": "success",
        "headrace": "workflow",
    }
    assert started.site_id == "paris"
    # Deterministic keys: the listener and the tracker publish the same facts under the same keys.
    assert [e.idempotency_key for e in dag_run_events(dag_run, site_id="paris")] == [
        started.idempotency_key,
        finished.idempotency_key,
    ]


def test_run_states_map_to_job_statuses(dag_run):
    from headrace.listeners.translate import dag_run_events

    dag_run.state = "failed"
    assert dag_run_events(dag_run, site_id="s")[-1].event.status == "failed"
    dag_run.state = "running"
    assert [(e.event.kind, e.event.status) for e in dag_run_events(dag_run, site_id="s")] == [
        ("started", "running")
    ]
    dag_run.state = "queued"
    assert dag_run_events(dag_run, site_id="s") == []


def test_the_kind_of_dag_headrace_made():
    from headrace.api.services.ingestion_jobs import DAG_ID
    from headrace.listeners.translate import headrace_kind
    from headrace.workflows.builder import HEADRACE_TAG

    assert headrace_kind("orders", {HEADRACE_TAG, "priority:normal"}) == "workflow"
    assert headrace_kind(DAG_ID, set()) == "ingestion"
    assert headrace_kind("somebody_elses", {"etl"}) is None


def _ti(**fields):
    return {
        "dag_id": "sales",
        "run_id": "manual__1",
        "task_id": "load",
        "map_index": -1,
        "try_number": 1,
        "state": "success",
        "start_date": T0,
        "end_date": T0 + timedelta(seconds=5),
        "duration": 5.0,
        "hostname": "worker-1",
        "operator": "PythonOperator",
        "custom_operator_name": None,
        "updated_at": T0 + timedelta(seconds=6),
        **fields,
    }


def test_a_task_instance_is_a_subjob_of_its_run():
    from headrace.listeners.translate import task_instance_events

    started, finished = task_instance_events(_ti(), site_id="s")
    assert finished.entity.model_dump() == {
        "type": "subjob",
        "id": "airflow:sales:manual__1:load:-1",
        "parent_id": "airflow:sales:manual__1",
        "business_key": "manual__1",
        "sub_key": "load",
    }
    assert (started.event.kind, started.event.at) == ("started", T0)
    assert (finished.event.kind, finished.event.status) == ("finished", "succeeded")
    assert finished.event.metrics == {"duration_s": 5.0}
    assert finished.event.metadata["operator"] == "PythonOperator"
    assert finished.event.metadata["hostname"] == "worker-1"
    assert finished.idempotency_key == "airflow:ti:sales:manual__1:load:-1:1:success"


@pytest.mark.parametrize(
    ("state", "kind", "status"),
    [
        ("failed", "finished", "failed"),
        ("upstream_failed", "finished", "failed"),
        ("skipped", "finished", "canceled"),
        ("removed", "finished", "canceled"),
        ("running", "started", "running"),
        ("queued", "progress", None),
        ("up_for_retry", "progress", "running"),
        ("deferred", "progress", "running"),
    ],
)
def test_task_states_map_to_subjob_statuses(state, kind, status):
    from headrace.listeners.translate import task_instance_events

    last = task_instance_events(_ti(state=state), site_id="s")[-1]
    assert (last.event.kind, last.event.status) == (kind, status)
    assert last.event.metadata["airflow_state"] == state


def test_mapped_tasks_and_long_ids():
    from headrace.listeners.translate import task_instance_events

    (event,) = task_instance_events(_ti(map_index=3, state="queued"), site_id="s")
    assert event.entity.sub_key == "load[3]" and event.entity.id.endswith(":load:3")
    long = task_instance_events(_ti(run_id="r" * 250, task_id="t" * 250), site_id="s")
    assert all(len(e.idempotency_key) <= 200 and len(e.entity.id) <= 250 for e in long)
    other = task_instance_events(_ti(run_id="r" * 250, task_id="t" * 249 + "u"), site_id="s")
    assert long[0].entity.id != other[0].entity.id  # a digest, not a truncation, tells them apart
    assert task_instance_events(_ti(state=None), site_id="s") == []
