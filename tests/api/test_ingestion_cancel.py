"""A cancel racing the table commit: the job's status and the DELETE's answer tell what the table holds.

The job is a real DagRun of the shipped DAG in the metadata DB and the load a real Arrow-engine run
into a real Iceberg catalog; the task instance is marked running as a worker's start does, and the
task's side of the handshake is the operator's own gate over a task instance whose XComs are rows of
the metadata DB (what Airflow's execution API reads and writes for a running task). The orderings
are forced through the hooks of the code under test (the engine's ``before_commit``, the cancel's
``looking_at_committing_task``), never by sleeping.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from headrace.api.services import ingestion_jobs
from headrace.ingestion.engine import run_ingestion
from headrace.ingestion.results import IngestionCancelled
from headrace.ingestion.spec import parse_spec
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.operators.ingestion import cancel_gate
from headrace.storage import LocalObjectStore
from tests.conftest import BASE, airflow_cli

ROWS = b"".join(b'{"id": %d, "amount": %d.5}\n' % (i, i) for i in range(500))


@pytest.fixture(scope="module")
def ingestion_dag(migrated_db):
    airflow_cli("dags", "reserialize")


class TaskInstanceXComs:
    """The running task instance's XComs, as the operator's gate reads and writes them."""

    task_id = ingestion_jobs.TASK_ID
    map_index = -1

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def xcom_push(self, key: str, value: Any) -> None:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            XComModel.set(
                key,
                value,
                dag_id=ingestion_jobs.DAG_ID,
                task_id=self.task_id,
                run_id=self.run_id,
                session=session,
            )

    def xcom_pull(self, *, task_ids: str, key: str, map_indexes: int) -> Any:
        from airflow.utils.session import create_session

        with create_session() as session:
            return ingestion_jobs._xcom(session, self.run_id, key)


def set_states(job_id: str, ti_state: str, run_state: str | None = None) -> None:
    """What a worker (task start, task end) and the scheduler (run end) write."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(TaskInstance.run_id == job_id, TaskInstance.task_id == "ingest")
        )
        ti.state = ti_state
        if run_state is not None:
            session.scalar(select(DagRun).where(DagRun.run_id == job_id)).state = run_state


@pytest.fixture
def lake(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket("raw")
    store.put("raw", "rows.json", io.BytesIO(ROWS))
    lakehouse = Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "wh"))
    )
    lakehouse.create_catalog("lake", CatalogType.ICEBERG)
    return store, lakehouse


def start_job(client, headers, job_id: str, table: str) -> dict:
    spec = {
        "job_id": job_id,
        "target": {"catalog": "lake", "schema": "sales", "table": table},
        "source": {"file_paths": "s3://raw/rows.json", "file_type": "json"},
    }
    created = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=spec)
    assert created.status_code == 201, created.json
    set_states(job_id, "running")  # a worker picked the task up
    return spec


def load(spec: dict, lake, job_id: str, gate):
    store, lakehouse = lake
    parsed, errors = parse_spec(spec)
    assert parsed is not None, errors
    return run_ingestion(parsed, job_id=job_id, lakehouse=lakehouse, store=store, before_commit=gate)


def rows_in(lake, table: str) -> int | None:
    """The table's rows as pyiceberg reads them; None when the table was never created."""
    catalog = lake[1].open("lake")
    if table not in (catalog.list_tables("sales") if "sales" in catalog.list_schemas() else []):
        return None
    return catalog.read("sales", table).num_rows


def status(client, headers, job_id: str) -> dict:
    return client.get(f"{BASE}/ingestion/jobs/{job_id}", headers=headers).json["data"]


def test_a_cancel_after_the_commit_answers_completed_and_the_job_is_completed(
    client, admin_headers, ingestion_dag, lake, monkeypatch
):
    spec = start_job(client, admin_headers, "race-after", "after")
    result = load(spec, lake, "race-after", cancel_gate(TaskInstanceXComs("race-after")))
    assert rows_in(lake, "after") == 500  # committed; the task has not ended yet

    def task_ends(job_id):  # the cancel found the commit reached; the task returns meanwhile
        TaskInstanceXComs(job_id).xcom_push("return_value", result.as_dict())
        set_states(job_id, "success", "success")

    monkeypatch.setattr(ingestion_jobs, "looking_at_committing_task", task_ends)
    cancel = client.delete(f"{BASE}/ingestion/jobs/race-after", headers=admin_headers)

    assert cancel.status_code == 409 and cancel.json["code"] == "JOB_FINISHED"
    assert "already completed: its rows were committed before the cancel arrived" in cancel.json["error"]
    job = status(client, admin_headers, "race-after")
    assert job["status"] == "completed" and job["rows_written"] == 500
    assert "a cancel by admin arrived after the table commit" in job["details"]
    assert rows_in(lake, "after") == 500


def test_a_cancel_before_the_commit_stops_the_job_and_leaves_no_rows(
    client, admin_headers, ingestion_dag, lake
):
    spec = start_job(client, admin_headers, "race-before", "before")
    gate = cancel_gate(TaskInstanceXComs("race-before"))
    answers = []

    def cancel_then_gate():  # every row is staged; the cancel arrives right before the gate runs
        answers.append(client.delete(f"{BASE}/ingestion/jobs/race-before", headers=admin_headers))
        gate()

    with pytest.raises(IngestionCancelled, match="Cancelled by admin before the table commit"):
        load(spec, lake, "race-before", cancel_then_gate)

    assert answers[0].status_code == 200 and answers[0].json["data"]["status"] == "cancelled"
    assert status(client, admin_headers, "race-before")["status"] == "cancelled"
    assert rows_in(lake, "before") is None


def test_a_cancel_between_the_tasks_two_steps_waits_and_the_task_stops(
    client, admin_headers, ingestion_dag, lake, monkeypatch
):
    """The task recorded reaching the commit, then the cancel arrives, then the task looks for it."""
    spec = start_job(client, admin_headers, "race-middle", "middle")
    waiting = threading.Event()
    monkeypatch.setattr(ingestion_jobs, "looking_at_committing_task", lambda job_id: waiting.set())
    answers = []

    class CancelArrivesBetween(TaskInstanceXComs):
        def xcom_pull(self, **kwargs):
            thread = threading.Thread(
                target=lambda: answers.append(
                    client.delete(f"{BASE}/ingestion/jobs/race-middle", headers=admin_headers)
                )
            )
            thread.start()
            assert waiting.wait(30)  # the cancel saw the commit reached and waits for the task
            self.thread = thread
            return super().xcom_pull(**kwargs)

    ti = CancelArrivesBetween("race-middle")
    with pytest.raises(IngestionCancelled):
        load(spec, lake, "race-middle", cancel_gate(ti))
    set_states("race-middle", "failed")  # the operator failed the task (no retry)
    ti.thread.join(30)

    assert answers[0].status_code == 200, answers[0].json
    assert status(client, admin_headers, "race-middle")["status"] == "cancelled"
    assert rows_in(lake, "middle") is None


def test_a_cancel_of_a_job_not_started_yet_means_it_never_runs(client, admin_headers, ingestion_dag):
    client.post(
        f"{BASE}/ingestion/jobs",
        headers=admin_headers,
        json={
            "job_id": "race-queued",
            "target": {"catalog": "lake", "schema": "s", "table": "t"},
            "source": {"file_paths": "s3://raw/rows.json", "file_type": "json"},
        },
    )

    cancel = client.delete(f"{BASE}/ingestion/jobs/race-queued", headers=admin_headers)

    assert cancel.status_code == 200
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        state = session.scalar(select(TaskInstance.state).where(TaskInstance.run_id == "race-queued"))
    assert state not in ("queued", "scheduled", None)  # a worker's start request is refused (409)
