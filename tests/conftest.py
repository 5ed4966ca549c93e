"""Test harness shared by every test.

Airflow reads its configuration when first imported, so this module points it at a temporary
``AIRFLOW_HOME`` before anything imports ``airflow``. API tests then run against the real Flask app
that the api-server mounts under ``/pluginsv2`` (FAB's ``create_app`` with plugins), backed by a
metadata database migrated with ``airflow db migrate``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[1]
S3_CONN_ID = "test_s3"
S3_REGION = "us-east-1"
BASE = "/headrace/api/v1"
USERS = {"admin": "admin", "vic": "viewer", "ursula": "user", "opal": "op"}

_HOME = Path(tempfile.mkdtemp(prefix="headrace-test-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "headrace-test-jwt-secret-" + "x" * 40,
        "AIRFLOW__API__SECRET_KEY": "headrace-test-secret-key",
        # Connection passwords and webhook secrets are encrypted, as in a deployment.
        "AIRFLOW__CORE__FERNET_KEY": "bm90LWEtcmVhbC1rZXktanVzdC1mb3ItdGVzdHMtMDE=",
        "AIRFLOW__HEADRACE__STORAGE_ROOT": str(_HOME / "storage"),
        # Tests write workflow definitions; never into the repository's dags/workflows.
        "AIRFLOW__HEADRACE__WORKFLOWS_FOLDER": str(_HOME / "workflows"),
        "AIRFLOW__HEADRACE__DEFINITIONS_FOLDER": str(_HOME / "definitions"),
    }
)


def airflow_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run the real ``airflow`` command of this virtualenv; fail the test with its output."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), *args],
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def migrated_db(airflow_home: Path) -> Path:
    airflow_cli("db", "migrate")
    return airflow_home


@pytest.fixture(scope="session")
def app(migrated_db):
    """The api-server's Flask app for plugins, with the Headrace plugin loaded from its entry point."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.providers.fab.www.app import create_app

    init_auth_manager()
    flask_app = create_app(enable_plugins=True)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Every test starts with full rate-limit budgets (tests that need a low limit set it themselves)."""
    yield
    if "app" in request.fixturenames:
        for blueprint in request.getfixturevalue("app").blueprints.values():
            limiter = getattr(blueprint, "headrace_limiter", None)
            if limiter is not None:
                limiter.reset()


@pytest.fixture(scope="session")
def airflow_cluster(tmp_path_factory):
    """One real Airflow deployment shared by every end-to-end test (see :mod:`tests.e2e.cluster`):
    api-server, scheduler and dag-processor on a fresh PostgreSQL database, local folder storage."""
    from tests.e2e.cluster import running_airflow

    with running_airflow(tmp_path_factory.mktemp("airflow-e2e")) as cluster:
        yield cluster


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def passwords(app, airflow_home: Path) -> dict[str, str]:
    """Passwords that SimpleAuthManager generated for USERS."""
    return json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text())


def token_for(username: str) -> str:
    """A real Airflow JWT for one of USERS, signed by the configured auth manager."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=USERS[username]))


@pytest.fixture
def admin_headers(app) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('admin')}"}


@pytest.fixture
def viewer_headers(app) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('vic')}"}


# A real S3-compatible server (moto's threaded server) on loopback; boto3 is never patched.
@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # one access-log line per request drowns any failure report
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="session")
def s3_conn_id(s3_endpoint: str) -> Iterator[str]:
    """An ``aws`` connection to the moto server, defined the way deployments do: in the environment."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": S3_REGION},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{S3_CONN_ID.upper()}", json.dumps(connection))
        yield S3_CONN_ID


@pytest.fixture(scope="session")
def raw_s3(s3_endpoint: str) -> Any:
    """A plain boto3 client on the moto server, to check what the store did independently of it."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=S3_REGION,
    )
