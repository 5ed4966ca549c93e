"""Agents (workflows-api) against the real Flask app: Airflow's components from rows of Airflow's own
``job`` table, this api-server measured with psutil, and binary-job executors from the real queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from tests.conftest import BASE

SHA = "0" * 63 + "1"


@pytest.fixture
def airflow_job():
    """Rows in Airflow's ``job`` table, as a scheduler or triggerer writes them; removed afterwards."""
    from airflow.jobs.job import Job
    from airflow.utils.session import create_session

    made: list[int] = []

    def make(job_type: str, hostname: str, age: float, state: str = "running") -> None:
        with create_session() as session:
            job = Job()
            job.job_type, job.hostname, job.state = job_type, hostname, state
            job.start_date = datetime.now(UTC) - timedelta(hours=1)
            job.latest_heartbeat = datetime.now(UTC) - timedelta(seconds=age)
            session.add(job)
            session.flush()
            made.append(job.id)

    yield make
    with create_session() as session:
        session.query(Job).filter(Job.id.in_(made)).delete(synchronize_session=False)


def _agents(client, headers) -> dict[str, dict]:
    answer = client.get(f"{BASE}/agents", headers=headers)
    assert answer.status_code == 200, answer.json
    return {a["agent_id"]: a for a in answer.json["agents"]}


def test_airflow_components_get_their_status_from_the_heartbeat_age(client, admin_headers, airflow_job):
    from airflow.jobs.job import health_check_threshold
    from airflow.utils.net import get_hostname

    here, away = get_hostname(), f"far-{uuid.uuid4().hex[:6]}"
    airflow_job("SchedulerJob", here, age=1)
    # Airflow's own threshold of the triggerer: past it unhealthy, past three times it offline
    airflow_job("TriggererJob", away, age=2 * health_check_threshold("TriggererJob", 5))
    airflow_job("DagProcessorJob", away, age=3600)

    agents = _agents(client, admin_headers)

    scheduler = agents[f"scheduler@{here}"]
    assert (scheduler["type"], scheduler["status"]) == ("scheduler", "healthy")
    assert scheduler["last_heartbeat"].endswith("Z") and scheduler["version"]
    assert scheduler["performance"]["active_workflows"] >= 0
    assert scheduler["resource_usage"] is None  # no `airflow scheduler` of this AIRFLOW_HOME runs
    assert agents[f"triggerer@{away}"]["status"] == "unhealthy"
    assert agents[f"triggerer@{away}"]["version"] is None  # another host: not known
    assert agents[f"dag-processor@{away}"]["status"] == "offline"


def test_the_api_server_is_measured_with_psutil(client, admin_headers):
    from airflow.utils.net import get_hostname

    server = _agents(client, admin_headers)[f"api-server@{get_hostname()}"]

    assert server["status"] == "healthy" and server["type"] == "api-server"
    usage = server["resource_usage"]
    own = psutil.Process().memory_info().rss / 2**20
    assert usage["memory_mb"] >= own * 0.5  # this process (and its children), give or take growth
    assert 0 < usage["memory_percent"] < 100


def test_an_executor_is_busy_with_its_job_and_counts_completions(client, admin_headers):
    created = client.post(
        f"{BASE}/auth/api-keys", headers=admin_headers, json={"name": "agents", "scopes": ["executor"]}
    )
    executor_headers = {"X-API-Key": created.json["data"]["key"]}
    kind, executor_id = f"agents-{uuid.uuid4().hex[:6]}", f"ex-{uuid.uuid4().hex[:8]}"
    job = {
        "type": kind,
        "binary_url": "https://example.com/binary",
        "binary_sha256": SHA,
        "priority": "background",
    }
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=job).json["id"]
    claim = {"executor_id": executor_id, "hostname": "exec-host", "types": [kind]}
    assert client.post(f"{BASE}/jobs/claim", headers=executor_headers, json=claim).status_code == 200

    busy = _agents(client, admin_headers)[executor_id]
    assert (busy["type"], busy["status"], busy["hostname"]) == ("executor", "busy", "exec-host")
    assert busy["current_task"]["task_id"] == job_id
    assert f"job_type:{kind}" in busy["capabilities"]

    done = {"executor_id": executor_id, "stdout": "", "stderr": "", "exit_code": 0}
    assert (
        client.put(f"{BASE}/jobs/{job_id}/complete", headers=executor_headers, json=done).status_code == 200
    )
    detail = client.get(f"{BASE}/agents/{executor_id}", headers=admin_headers)

    assert detail.status_code == 200
    body = detail.json
    assert body["status"] == "healthy" and body["current_task"] is None
    assert body["performance"]["completed_tasks"] == 1 and body["performance"]["success_rate"] == 1.0
    assert body["recent_tasks"][0] == {
        "task_id": job_id,
        "workflow_id": None,
        "status": "completed",
        "duration": body["recent_tasks"][0]["duration"],
        "records_processed": None,
    }
    assert body["configuration"]["types"] == [kind]
    assert body["performance_history"][0]["task_completion_rate"] == 1.0


def test_unknown_agent_is_404_in_the_workflows_api_shape(client, admin_headers):
    answer = client.get(f"{BASE}/agents/nobody@nowhere", headers=admin_headers)

    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "AGENT_NOT_FOUND"
    assert answer.json["error"]["details"]["agent_id"] == "nobody@nowhere"
    assert answer.json["error"]["request_id"] == answer.headers["X-Request-ID"]


def test_agent_details_of_the_api_server(client, admin_headers):
    from airflow.utils.net import get_hostname

    body = client.get(f"{BASE}/agents/api-server@{get_hostname()}", headers=admin_headers).json

    assert {"configuration", "performance_history", "recent_tasks"} <= body.keys()
    assert body["performance_history"][0]["memory_mb"] > 0
    assert "workers" in body["configuration"]


def test_agents_need_credentials(client):
    assert client.get(f"{BASE}/agents").status_code == 401


def test_the_documented_agent_id_pattern_is_the_models():
    from headrace.api.datamodels.agents import AGENT_ID_MAX_LENGTH, AGENT_ID_PATTERN
    from headrace.api.openapi import PATH_PARAMETERS

    assert PATH_PARAMETERS["agent_id"].pattern() == AGENT_ID_PATTERN
    assert PATH_PARAMETERS["agent_id"].max_length == AGENT_ID_MAX_LENGTH
