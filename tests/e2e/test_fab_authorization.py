"""Per-DAG authorization with the FAB auth manager: a role that may read one DAG sees only that DAG.

SimpleAuthManager grants every DAG or none, so only FAB (roles with ``DAG:<dag_id>`` permissions)
shows that the lists keep to ``readable_dag_ids`` and that the per-DAG checks deny. A separate
Airflow deployment runs with the FAB auth manager; its users and roles are made with FAB's own
``airflow users`` / ``airflow roles`` commands, and they log in through Headrace's ``/auth/login``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import airflow_cli
from tests.e2e.cluster import AirflowCluster, running_airflow

pytestmark = pytest.mark.e2e

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
INGESTION_DAG = "headrace_ingestion"
ALLOWED, DENIED = "fab_allowed", "fab_denied"
DEFINITION = """\
id: {id}
name: FAB {id}
schedule: null
steps:
  - {{id: hello, kind: bash, bash_command: "echo hello"}}
"""
SPEC = {
    "target": {"catalog": "iceberg_data", "schema": "sales", "table": "transactions"},
    "source": {"file_paths": "s3://landing/none/*.json", "file_type": "json"},
}


def _cli(cluster: AirflowCluster, *args: str) -> str:
    return airflow_cli(*args, env=cluster.env)


def _user(cluster: AirflowCluster, username: str, role: str) -> str:
    """A FAB user with ``role``, made by FAB's own CLI; returns its password."""
    password = uuid.uuid4().hex
    _cli(cluster, "users", "create", "-u", username, "-p", password, "-r", role,
         "-e", f"{username}@example.com", "-f", username, "-l", "Test")  # fmt: skip
    return password


def _login(cluster: AirflowCluster, username: str, password: str) -> dict[str, str]:
    response = requests.post(
        f"{cluster.api}/auth/login", json={"username": username, "password": password}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _wait_for_dags(cluster: AirflowCluster, headers: dict[str, str], dag_ids: set[str]) -> None:
    """Until Airflow's own API knows every DAG (the dag-processor has parsed and stored it)."""
    deadline = time.monotonic() + 120
    missing = set(dag_ids)
    while missing and time.monotonic() < deadline:
        for dag_id in sorted(missing):
            if requests.get(f"{cluster.url}/api/v2/dags/{dag_id}", headers=headers, timeout=30).ok:
                missing.discard(dag_id)
        time.sleep(1)
    assert not missing, f"DAGs never parsed: {missing}"


def _role(cluster: AirflowCluster, name: str, dag_id: str) -> None:
    """A role that may read ``dag_id`` and nothing else of Airflow's DAGs. It also holds runs in general
    ("DAG Runs"), which name no DAG: they pass the endpoints' general checks, so what denies the other
    DAGs is the per-DAG check behind them."""
    _cli(cluster, "roles", "create", name)
    _cli(cluster, "roles", "add-perms", name, "-r", f"DAG:{dag_id}", "-a", "can_read")
    _cli(cluster, "roles", "add-perms", name, "-r", "DAG Runs", "-a", "can_read", "can_create")


@pytest.fixture(scope="module")
def fab(tmp_path_factory) -> Iterator[dict]:
    """A FAB deployment with two workflow definitions, one ingestion job, an admin and two users
    whose roles may each read one DAG: ``dora`` the workflow ``fab_allowed``, ``ivy`` the ingestion DAG."""
    home = tmp_path_factory.mktemp("airflow-fab")
    with running_airflow(home, extra_env={"AIRFLOW__CORE__AUTH_MANAGER": FAB}) as cluster:
        folder = cluster.home / "workflows"
        folder.mkdir(parents=True, exist_ok=True)
        for dag_id in (ALLOWED, DENIED):
            (folder / f"{dag_id}.yaml").write_text(DEFINITION.format(id=dag_id))
        admin_password = _user(cluster, "admin", "Admin")
        admin = _login(cluster, "admin", admin_password)
        for dag_id in (ALLOWED, DENIED):
            deployed = requests.post(
                f"{cluster.api}/pipelines/{dag_id}:deploy", headers=admin, json={}, timeout=60
            )
            assert deployed.status_code == 200, deployed.text
        _wait_for_dags(cluster, admin, {INGESTION_DAG, ALLOWED, DENIED})
        _cli(cluster, "sync-perm", "--include-dags")  # DAG:<dag_id> resources for every parsed DAG
        job = requests.post(f"{cluster.api}/ingestion/jobs", headers=admin, json=SPEC, timeout=60)
        assert job.status_code == 201, job.text
        users = {}
        for username, dag_id in (("dora", ALLOWED), ("ivy", INGESTION_DAG)):
            _role(cluster, f"only_{dag_id}", dag_id)
            password = _user(cluster, username, f"only_{dag_id}")
            users[username] = _login(cluster, username, password)
        yield {"cluster": cluster, "admin": admin, "job_id": job.json()["data"]["job_id"], **users}


def _get(fab: dict, user: str, path: str) -> requests.Response:
    return requests.get(f"{fab['cluster'].api}{path}", headers=fab[user], timeout=60)


def test_lists_show_only_the_dags_the_role_may_read(fab):
    pipelines = _get(fab, "dora", "/pipelines?per_page=100")
    workflows = _get(fab, "dora", "/workflows?limit=100")
    assert pipelines.status_code == workflows.status_code == 200, (pipelines.text, workflows.text)
    assert {p["pipeline_id"] for p in pipelines.json()} == {ALLOWED}
    assert {w["workflow_id"] for w in workflows.json()["workflows"]} == {ALLOWED}
    # The admin sees both: the lists are narrowed by the role, not by what exists.
    everything = _get(fab, "admin", "/workflows?limit=100").json()["workflows"]
    assert {ALLOWED, DENIED} <= {w["workflow_id"] for w in everything}


def test_the_other_dag_is_denied_item_by_item(fab):
    assert _get(fab, "dora", f"/workflows/{ALLOWED}").status_code == 200
    assert _get(fab, "dora", f"/pipelines/{ALLOWED}").status_code == 200
    for path in (f"/workflows/{DENIED}", f"/pipelines/{DENIED}", f"/pipelines/{DENIED}/status"):
        denied = _get(fab, "dora", path)
        assert denied.status_code == 403, (path, denied.text)
    run = requests.post(
        f"{fab['cluster'].api}/pipelines/{DENIED}:run", headers=fab["dora"], json={}, timeout=60
    )
    assert run.status_code == 403, run.text
    assert f"'{DENIED}'" in run.json()["error"]["message"]


def test_ingestion_jobs_are_for_readers_of_the_ingestion_dag(fab):
    jobs = _get(fab, "ivy", "/ingestion/jobs")
    assert jobs.status_code == 200, jobs.text
    assert fab["job_id"] in {j["job_id"] for j in jobs.json()["data"]}
    assert _get(fab, "ivy", f"/ingestion/jobs/{fab['job_id']}").status_code == 200
    # ivy may read no workflow: none listed, each one denied.
    assert _get(fab, "ivy", "/workflows?limit=100").json()["workflows"] == []
    assert _get(fab, "ivy", f"/workflows/{ALLOWED}").status_code == 403

    # dora may not read the ingestion DAG: its jobs are not hers to list, read or validate against,
    # although her role may read runs (of her own DAG).
    for path in ("/ingestion/jobs", f"/ingestion/jobs/{fab['job_id']}"):
        denied = _get(fab, "dora", path)
        assert denied.status_code == 403, (path, denied.text)
    validate = requests.post(
        f"{fab['cluster'].api}/ingestion/validate", headers=fab["dora"], json=SPEC, timeout=60
    )
    assert validate.status_code == 403, validate.text
