"""dags/example_job_execution.py under a real scheduler and triggerer, with a real ``headrace executor``.

The binary is a shell script served by a loopback HTTP server of this test; the connection, the
Variables naming the binary and the API keys are created through the REST APIs, as an operator of
the deployment would. The queued task must be seen ``deferred`` (no worker slot held) while the
executor runs its job.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e
DAG_ID = "example_job_execution"
SCRIPT = b"""#!/bin/sh
echo "hello $1 from the $2 job (previous exit code: ${3:-none}, run $AIRFLOW_RUN_ID)"
if [ "$2" = "queued" ]; then sleep 6; fi
echo "bye $1"
"""
SHA = hashlib.sha256(SCRIPT).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def binary_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "hello").write_bytes(SCRIPT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hello"
    finally:
        server.shutdown()
        server.server_close()


def _api_key(cluster, admin: dict[str, str], name: str, scope: str) -> str:
    created = requests.post(
        f"{cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": name, "scopes": [scope], "expires_in_days": 1},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["key"]


@pytest.fixture
def executor(airflow_cluster, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real ``headrace executor`` process with an executor-scoped key; its process group is ended."""
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    key = _api_key(airflow_cluster, admin, "e2e-executor", "executor")
    log = (tmp_path / "executor.log").open("wb")
    command = [
        str(Path(sys.executable).with_name("headrace")),
        "executor",
        "--api-url",
        airflow_cluster.api,
        "--allow-url-prefix",
        "http://127.0.0.1:",
        "--poll-wait",
        "5",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    env = {**os.environ, "HEADRACE_API_KEY": key}
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        print((tmp_path / "executor.log").read_text()[-3000:])


def _airflow(cluster, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{cluster.url}/api/v2{path}", headers=headers, timeout=30, **kwargs)


def _wait_for_dag(cluster, headers: dict[str, str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _airflow(cluster, "GET", f"/dags/{DAG_ID}", headers).status_code == 200:
            return
        time.sleep(1)
    pytest.fail(f"{DAG_ID} was not parsed within {timeout:.0f}s")


def _xcom(cluster, headers: dict[str, str], run_id: str, task_id: str, key: str) -> Any:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
    response = _airflow(cluster, "GET", path, headers)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_the_example_dag_runs_a_job_queued_and_inline(airflow_cluster, binary_url, executor) -> None:
    cluster = airflow_cluster
    admin = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    dag_key = _api_key(cluster, admin, "e2e-dag", "write")
    connection = {
        "connection_id": "headrace_api_default",
        "conn_type": "headrace_api",
        "host": cluster.url,
        "password": dag_key,
    }
    assert _airflow(cluster, "POST", "/connections", admin, json=connection).status_code == 201
    for key, value in (("url", binary_url), ("sha256", SHA)):
        variable = {"key": f"headrace_example_job_binary_{key}", "value": value}
        assert _airflow(cluster, "POST", "/variables", admin, json=variable).status_code == 201
    _wait_for_dag(cluster, admin)
    assert _airflow(cluster, "PATCH", f"/dags/{DAG_ID}", admin, json={"is_paused": False}).status_code == 200

    triggered = _airflow(
        cluster, "POST", f"/dags/{DAG_ID}/dagRuns", admin, json={"logical_date": None, "conf": {"who": "e2e"}}
    )
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["dag_run_id"]

    seen: set[str | None] = set()
    deadline = time.monotonic() + 240
    state = "queued"
    while time.monotonic() < deadline and state not in ("success", "failed"):
        queued = _airflow(cluster, "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/queued", admin)
        seen.add(queued.json().get("state"))
        state = _airflow(cluster, "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}", admin).json()["state"]
        time.sleep(0.5)
    assert executor.poll() is None, "the executor died"
    assert state == "success", (state, seen)
    assert "deferred" in seen  # waited in the triggerer while the executor ran the job

    job_id = _xcom(cluster, admin, run_id, "queued", "job_id")
    assert _xcom(cluster, admin, run_id, "queued", "exit_code") == 0
    assert "hello e2e from the queued job" in _xcom(cluster, admin, run_id, "queued", "stdout_tail")
    job = requests.get(f"{cluster.api}/jobs/{job_id}", headers={"X-API-Key": dag_key}, timeout=30).json()
    assert job["status"] == "completed" and job["executor_id"], job
    assert job["env_variables"] == {"AIRFLOW_RUN_ID": run_id}

    inline_out = _xcom(cluster, admin, run_id, "inline", "stdout_tail")
    assert inline_out.startswith("hello e2e from the inline job (previous exit code: 0, run ")
    assert _xcom(cluster, admin, run_id, "inline", "exit_code") == 0
