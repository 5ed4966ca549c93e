"""Operators called outside an Airflow task: ``op.execute(context)`` with a context that has no task
instance (``ti``), as a user does in a test or a script.

There is no XCom and no cancel then: an ingestion loads and commits, a failure still fails with its
reason, an inline job runs and returns its outcome. Only what needs a task instance says so: the
default job id (run id and task id), which a caller gives as ``job_id`` instead.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.models import CatalogType
from headrace.operators.ingestion import IngestionOperator
from headrace.operators.job_execution import JobExecutionOperator
from headrace.storage import LocalObjectStore
from tests.unit.ingestion.helpers import BUCKET, ROWS, json_lines, put, read_back, rows_of, tree

SCRIPT = b'#!/bin/sh\necho "hello $1"\nif [ "$2" = fail ]; then echo broke >&2; exit 3; fi\n'
SHA = hashlib.sha256(SCRIPT).hexdigest()


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalObjectStore:
    """The ``[headrace]`` configuration pointed at a local lakehouse in ``tmp_path`` with an
    ``iceberg`` catalog; returns its object store (a ``raw`` bucket), as the operator opens it."""
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    LakehouseHook().get_conn().create_catalog("iceberg", CatalogType.ICEBERG)
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket(BUCKET)
    return store


def ingestion(uri: str, **kwargs: Any) -> IngestionOperator:
    return IngestionOperator(
        task_id="load",
        target={"catalog": "iceberg", "schema": "sales", "table": "orders"},
        source={"file_paths": uri, "file_type": "json"},
        **kwargs,
    )


def test_an_ingestion_without_a_task_instance_loads_once(deployment, tmp_path):
    uri = put(deployment, "orders/rows.jsonl", json_lines(ROWS))

    result = ingestion(uri, job_id="by-hand").execute({})
    again = ingestion(uri, job_id="by-hand").execute({})

    assert (result["rows_written"], result["target"], result["job_id"]) == (
        3,
        "iceberg.sales.orders",
        "by-hand",
    )
    assert again["already_committed"] and again["version"] == result["version"]
    assert rows_of(read_back(tmp_path, "iceberg", "iceberg", "orders")) == ROWS


@pytest.mark.parametrize(
    ("context", "missing"),
    [({}, "no task instance 'ti' and no 'run_id'"), ({"run_id": "manual__1"}, "no task instance 'ti' to")],
)
def test_without_a_task_instance_the_default_job_id_asks_for_one(deployment, tmp_path, context, missing):
    uri = put(deployment, "orders/rows.jsonl", json_lines(ROWS))

    with pytest.raises(AirflowFailException) as raised:
        ingestion(uri).execute(context)

    assert missing in str(raised.value) and "pass job_id=" in str(raised.value)
    assert tree(tmp_path / "wh" / "iceberg") == []


def test_a_bad_spec_without_a_task_instance_fails_with_its_reason(deployment):
    operator = IngestionOperator(
        task_id="load",
        job_id="by-hand",
        target={"catalog": "iceberg", "schema": "sales", "table": "orders"},
        source={"file_paths": [], "file_type": "json"},
    )

    with pytest.raises(AirflowFailException, match="Invalid ingestion spec"):
        operator.execute({})


def test_a_failing_ingestion_without_a_task_instance_says_why(deployment, tmp_path):
    uri = put(deployment, "orders/broken.jsonl", b'{"id": 1}\n{"id": \n')

    with pytest.raises(AirflowFailException, match=r"broken\.jsonl"):
        ingestion(uri, job_id="broken").execute({})

    assert tree(tmp_path / "wh" / "iceberg") == []  # nothing written, nothing left staged


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def binary_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """URL of SCRIPT on a real HTTP server on 127.0.0.1, allowed for jobs."""
    (tmp_path / "greet").write_bytes(SCRIPT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST", "http://127.0.0.1:")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/greet"
    finally:
        server.shutdown()
        server.server_close()


def test_an_inline_job_without_a_task_instance_returns_its_outcome(binary_url):
    operator = JobExecutionOperator(
        task_id="run", binary_url=binary_url, binary_sha256=SHA, arguments=["ada"], mode="inline"
    )

    assert operator.execute({}) == {"job_id": None, "status": "completed", "exit_code": 0}


def test_a_failing_inline_job_without_a_task_instance_fails_with_its_error(binary_url):
    operator = JobExecutionOperator(
        task_id="run", binary_url=binary_url, binary_sha256=SHA, arguments=["ada", "fail"], mode="inline"
    )

    with pytest.raises(AirflowFailException, match="Inline job failed"):
        operator.execute({})
