"""A real Airflow for end-to-end tests and benchmarks: api-server, scheduler and dag-processor processes.

Started once per session on a free port with a temporary ``AIRFLOW_HOME`` and a fresh PostgreSQL
database (127.0.0.1:5432; SQLite with a printed notice where no PostgreSQL answers). Each process runs
in its own process group, which is ended as a whole afterwards, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, airflow_cli

# "burst" is spent by the rate-limit test alone: budgets are per user (an API key counts as its owner).
E2E_USERS = {"admin": "admin", "vic": "viewer", "burst": "viewer"}
_POSTGRES = {
    "host": "127.0.0.1",
    "port": 5432,
    "user": "postgres",
    "dbname": "postgres",
    "connect_timeout": 3,
}


@dataclass(frozen=True)
class AirflowCluster:
    url: str  # the api-server's root, e.g. http://127.0.0.1:PORT
    home: Path
    env: dict[str, str]
    passwords: dict[str, str]
    pids: dict[str, int]  # component name -> pid (process group leader)

    @property
    def api(self) -> str:
        return f"{self.url}/pluginsv2/headrace/api/v1"

    def airflow_token(self, username: str) -> str:
        """A token from Airflow's own ``POST /auth/token``, as any Airflow client would get it."""
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": username, "password": self.passwords[username]},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]


# A two-task workflow (the second after the first): one DagRun with two task instances.
TWO_STEPS = """\
id: {id}
schedule: null
steps:
  - {{id: first, kind: bash, bash_command: "sleep 1"}}
  - {{id: second, kind: bash, bash_command: "echo done", depends_on: [first]}}
"""


def run_two_step_workflow(cluster: AirflowCluster, headers: dict[str, str], prefix: str) -> str:
    """Write :data:`TWO_STEPS` as a new definition, deploy it, wait until Airflow has it unpaused and
    run it to completion through the pipelines API; its DAG id."""
    dag_id = f"{prefix}_{uuid.uuid4().hex[:6]}"
    folder = cluster.home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dag_id}.yaml").write_text(TWO_STEPS.format(id=dag_id))
    deployed = requests.post(f"{cluster.api}/pipelines/{dag_id}:deploy", headers=headers, json={}, timeout=60)
    assert deployed.status_code == 200, deployed.text
    deadline = time.monotonic() + 60
    while (
        dag := requests.get(f"{cluster.url}/api/v2/dags/{dag_id}", headers=headers, timeout=30)
    ).status_code != 200 or dag.json()["is_paused"]:
        assert time.monotonic() < deadline, f"Airflow never loaded {dag_id}: {dag.text}"
        time.sleep(0.5)
    run = requests.post(
        f"{cluster.api}/pipelines/{dag_id}:run",
        headers=headers,
        json={"async": False, "wait_seconds": 120},
        timeout=180,
    )
    assert run.status_code == 202 and run.json()["status"] == "completed", run.text
    return dag_id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_database(home: Path) -> tuple[str, callable]:
    """A new PostgreSQL database, or a SQLite file where no PostgreSQL answers."""
    try:
        import psycopg2

        admin = psycopg2.connect(**_POSTGRES)
    except Exception as exc:
        print(
            f"\nNOTICE: no PostgreSQL on 127.0.0.1:5432 ({exc}); end-to-end tests use SQLite.",
            file=sys.stderr,
        )
        return f"sqlite:///{home / 'airflow.db'}", lambda: None
    name = f"headrace_e2e_{uuid.uuid4().hex[:12]}"
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')  # name is generated above, never user input
    admin.close()

    def drop() -> None:
        connection = psycopg2.connect(**_POSTGRES)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()

    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}", drop


def _stop(process: subprocess.Popen) -> None:
    """End a component and everything it forked (its whole process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        process.poll()
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_for_health(cluster: AirflowCluster, processes: dict[str, subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                log = (cluster.home / f"{name}.log").read_text()[-4000:]
                pytest.fail(f"airflow {name} exited with {process.returncode}:\n{log}")
        try:
            response = requests.get(f"{cluster.api}/health", timeout=5)
            last = response.text[:500]
            scheduler = response.json()["components"]["scheduler"]["status"]
            if response.status_code == 200 and scheduler == "ok":
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(1)
    pytest.fail(f"Airflow did not become healthy within {timeout:.0f}s; last health answer: {last}")


@contextlib.contextmanager
def running_airflow(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[AirflowCluster]:
    """Start api-server, scheduler and dag-processor on a fresh database; stop them all afterwards."""
    database_url, drop_database = _fresh_database(home)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in E2E_USERS.items()),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": uuid.uuid4().hex,
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex * 2,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__HEADRACE__STORAGE_ROOT": str(home / "storage"),
            "AIRFLOW__HEADRACE__DEFINITIONS_FOLDER": str(home / "workflows"),
            "AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST": "http://127.0.0.1:",
            "AIRFLOW__HEADRACE__JOB_HEARTBEAT_TIMEOUT": "12",  # tests/e2e/test_jobs.py: SIGKILL rescue
            **(extra_env or {}),
        }
    )
    processes: dict[str, subprocess.Popen] = {}
    try:
        airflow_cli("db", "migrate", env=env)
        airflow = str(Path(sys.executable).with_name("airflow"))
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            with (home / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [airflow, name], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        cluster = AirflowCluster(url=url, home=home, env=env, passwords={}, pids={})
        _wait_for_health(cluster, processes, timeout=240)
        # SimpleAuthManager generates passwords for E2E_USERS; another auth manager has users of its own.
        generated = home / "simple_auth_manager_passwords.json.generated"
        passwords = json.loads(generated.read_text()) if generated.exists() else {}
        yield AirflowCluster(
            url=url,
            home=home,
            env=env,
            passwords=passwords,
            pids={name: process.pid for name, process in processes.items()},
        )
    finally:
        for process in processes.values():
            _stop(process)
        drop_database()
