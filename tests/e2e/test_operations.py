"""Operations end to end: a pipeline run by the real scheduler shows up in /observability/metrics and
/metrics, the scheduler in /agents with its heartbeat, and request statistics are the same whichever
worker of an ``airflow api-server --workers 2`` answers."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.cluster import _free_port, _stop, run_two_step_workflow

pytestmark = pytest.mark.e2e


def test_a_pipeline_run_shows_in_the_metrics_and_the_scheduler_in_the_agents(airflow_cluster):
    cluster = airflow_cluster
    headers = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    started = datetime.now(UTC) - timedelta(minutes=1)
    dag_id = run_two_step_workflow(cluster, headers, "ops")

    window = {"start": started.isoformat(), "step": "1h", "pipeline": dag_id}
    executions = requests.get(
        f"{cluster.api}/observability/metrics",
        headers=headers,
        params={**window, "metric": "pipeline_executions"},
    ).json()
    assert [(p["labels"], p["value"]) for p in executions["metrics"]] == [
        ({"pipeline": dag_id, "status": "success"}, 1)
    ]
    assert executions["aggregates"]["total"] == 1 and executions["aggregates"]["success_rate"] == 1.0
    assert executions["aggregates"]["avg_duration_seconds"] >= 1  # the first step sleeps 1 s
    durations = requests.get(
        f"{cluster.api}/observability/metrics",
        headers=headers,
        params={**window, "metric": "pipeline_duration_seconds"},
    ).json()
    assert durations["metrics"][0]["value"] == executions["aggregates"]["avg_duration_seconds"]

    metrics = requests.get(f"{cluster.api}/metrics", headers=headers, timeout=60).json()
    assert metrics["workflow_metrics"]["completed_today"] >= 1
    assert metrics["workflow_metrics"]["average_duration"] > 0
    infra = metrics["infrastructure_metrics"]
    assert infra["database_connections"] >= 1 and 0 < infra["cache_hit_rate"] <= 1  # PostgreSQL's own figures
    text = requests.get(
        f"{cluster.api}/metrics", headers={**headers, "Accept": "text/plain"}, timeout=60
    ).text
    runs = {f.name: f for f in text_string_to_metric_families(text)}["headrace_workflow_runs"]
    assert any(s.labels == {"pipeline": dag_id, "status": "success"} and s.value == 1 for s in runs.samples)

    agents = {
        a["agent_id"]: a for a in requests.get(f"{cluster.api}/agents", headers=headers).json()["agents"]
    }
    (scheduler,) = [a for a in agents.values() if a["type"] == "scheduler" and a["status"] == "healthy"]
    heartbeat = datetime.fromisoformat(scheduler["last_heartbeat"].replace("Z", "+00:00"))
    assert datetime.now(UTC) - heartbeat < timedelta(seconds=30)
    assert scheduler["resource_usage"]["memory_mb"] > 0  # the cluster's scheduler runs on this host
    workers = [a for a in agents.values() if a["type"] == "worker"]
    assert workers and workers[0]["performance"]["completed_tasks"] >= 2
    detail = requests.get(f"{cluster.api}/agents/{scheduler['agent_id']}", headers=headers).json()
    assert detail["configuration"]["executor"] == "LocalExecutor"


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the second api-server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/pluginsv2/headrace/api/v1/health", timeout=5).status_code in (200, 503):
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"the second api-server did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


def _count(api: str, headers: dict, route: str) -> int:
    data = requests.get(f"{api}/monitoring/metrics", headers=headers, timeout=60).json()["data"]
    return sum(e["total"] for e in data["endpoints"] if e["endpoint"] == route)


def test_two_api_server_workers_count_into_the_same_statistics(airflow_cluster):
    cluster = airflow_cluster
    headers = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api = f"{url}/pluginsv2/headrace/api/v1"
    log = cluster.home / "api-server-2-workers.log"
    env = {**cluster.env, "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "2"}
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("wb") as out:
        server = subprocess.Popen(
            [airflow, "api-server", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(url, server, log)
        assert len(_workers(server)) == 2, log.read_text()[-2000:]
        before = _count(api, headers, "/api/v1/health")
        for _ in range(20):  # a new connection each time, so that both workers take requests
            assert (
                requests.get(f"{api}/health", timeout=30, headers={"Connection": "close"}).status_code == 200
            )

        assert _count(api, headers, "/api/v1/health") == before + 20
        # the cluster's own api-server reads the same rows
        assert _count(cluster.api, headers, "/api/v1/health") == before + 20
    finally:
        _stop(server)


def _workers(server: subprocess.Popen) -> list[psutil.Process]:
    """uvicorn's worker processes (spawned with multiprocessing) of the server."""
    found = []
    for child in psutil.Process(server.pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found
