"""Schemathesis over the OpenAPI document of a real api-server: no 5xx, and every response as documented.

The document is read from the running server (``GET <api>/openapi.json``) and every operation in it
is exercised by the ``schemathesis run`` command with a bounded, deterministic set of cases: the
coverage phase (boundary and invalid values derived from the schemas, deterministic by design) plus
``EXAMPLES`` fuzzed cases per operation, positive and negative, derandomized and never shrunk.
Two passes:

* as an administrator (an Airflow JWT in ``Authorization: Bearer``): no 5xx, and status code,
  content type, headers and body of each answer as the document declares them;
* without credentials: the same, and every operation that declares a security requirement answers 401.

Why the ``schemathesis run`` command rather than ``@schema.parametrize()``: the document only exists
once the server runs, so the pytest integration would need ``schemathesis.pytest.from_fixture``,
which schemathesis 4.32 implements by rewriting ``Node._nodeid``, an attribute pytest 9.2 no longer
has. The command is schemathesis' own runner (all phases, its reports and reproducible ``curl``
lines), configured below through a ``schemathesis.toml`` and this very file as its hooks module.

The run gets an Airflow of its own rather than the session's ``airflow_cluster``: it sends several
hundred requests per namespace and client (the coverage phase alone derives up to ~350 cases for one
operation), more failed logins than ``failed_login_limit`` allows an address (5 per 15 minutes), and
triggers dozens of pipeline runs, while the shared cluster must keep the default budgets that other
end-to-end tests assert (``100 per 15 minutes``). Here the budgets are raised through
``running_airflow(extra_env=...)`` instead, and a 429 still fails the run
(``headrace_not_rate_limited``) so that a budget can never silently turn the cases into no-ops.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

EXAMPLES = 12  # fuzzed cases per operation (the coverage phase adds its deterministic ones)
REQUEST_TIMEOUT = 60  # seconds; a slower answer is reported as an error of the run
RUN_TIMEOUT = 900  # seconds for one pass; 60-175 s each on 2 cores (2026-12-02)
PIPELINE_WAIT_SECONDS = 1  # see _bound_pipeline_waits
UNLIMITED = "1000000 per 15 minutes"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
HOOKS_MODULE = "_schemathesis_hooks"  # the name schemathesis gives a hooks file it loads by path
LOGOUT = "POST /auth/logout"
PIPELINE_RUN = "POST /pipelines/{pipeline_id}:run"
# Environment of the `schemathesis run` process, read by the hooks at the end of this file.
ENV_PASS, ENV_TOKEN, ENV_AIRFLOW_URL, ENV_PASSWORD = (
    "HEADRACE_ST_PASS",
    "HEADRACE_ST_TOKEN",
    "HEADRACE_ST_AIRFLOW_URL",
    "HEADRACE_ST_ADMIN_PASSWORD",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fuzz_cluster(tmp_path_factory) -> Iterator[Any]:
    """A real api-server, scheduler and dag-processor (PostgreSQL) whose budgets fit a fuzzing run."""
    from tests.e2e.cluster import running_airflow

    extra_env = {
        "AIRFLOW__HEADRACE__RATE_LIMIT": UNLIMITED,
        "AIRFLOW__HEADRACE__RATE_LIMITS": f"health={UNLIMITED}",
        "AIRFLOW__HEADRACE__FAILED_LOGIN_LIMIT": UNLIMITED,
        # The session's airflow_cluster may be running too: its scheduler holds the default port.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
    }
    with running_airflow(tmp_path_factory.mktemp("airflow-schemathesis"), extra_env=extra_env) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def openapi_document(fuzz_cluster, tmp_path_factory) -> Path:
    """The document as the running server serves it, saved for ``schemathesis run``."""
    token = fuzz_cluster.airflow_token("admin")
    response = requests.get(
        f"{fuzz_cluster.api}/openapi.json", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text[:2000]
    document = response.json()
    assert document["openapi"].startswith("3.1") and document["paths"]
    path = tmp_path_factory.mktemp("schemathesis") / "openapi.json"
    path.write_text(json.dumps(document))
    return path


def _operation_count(document: Path) -> int:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    paths = json.loads(document.read_text())["paths"]
    return sum(1 for item in paths.values() for method in item if method in methods)


def _config(base_url: str, custom_checks: tuple[str, ...]) -> str:
    """A ``schemathesis.toml``: what is generated, how much of it, and which checks judge the answers."""
    checks = "\n".join(f"{name}.enabled = true" for name in (*CHECKS, *custom_checks))
    return f"""
base-url = {json.dumps(base_url)}
hooks = {json.dumps(str(Path(__file__).resolve()))}
workers = 1
request-timeout = {REQUEST_TIMEOUT}

[generation]
mode = "all"
max-examples = {EXAMPLES}
deterministic = true
no-shrink = true
# Credentials come from the hooks (or not at all): generated API keys and cookies would replace the
# admin's token with garbage (X-API-Key takes precedence over Authorization) and test nothing.
with-security-parameters = false

[phases]
examples.enabled = true
coverage.enabled = true
fuzzing.enabled = true
stateful.enabled = false

[checks]
enabled = false
{checks}
"""


def _run(
    pass_name: str, cluster: Any, document: Path, workdir: Path, env: dict[str, str], checks: tuple[str, ...]
) -> None:
    """One ``schemathesis run``; ``checks`` are the custom ones (of the hooks below) besides CHECKS."""
    config = workdir / "schemathesis.toml"
    config.write_text(_config(cluster.api, ("headrace_not_rate_limited", *checks)))
    report = workdir / "report.json"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        str(document),
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command,
            cwd=workdir,
            env={**os.environ, ENV_PASS: pass_name, **env},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        partial = "".join(
            part if isinstance(part, str) else part.decode(errors="replace")
            for part in (exc.stdout or "", exc.stderr or "")
        )
        pytest.fail(f"schemathesis ({pass_name}) did not finish within {RUN_TIMEOUT}s:\n{partial[-20000:]}")
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    print(f"schemathesis ({pass_name}) took {elapsed:.1f}s\n{output}")
    summary = json.loads(report.read_text()) if report.exists() else {}
    operations = summary.get("operations", {})
    # Every operation of the document was tested: nothing was filtered out or skipped on the way.
    assert operations.get("tested") == _operation_count(document), output[-20000:]
    assert result.returncode == 0, f"schemathesis found problems ({pass_name}):\n{output[-20000:]}"


def test_schemathesis_as_admin_finds_no_server_error_and_no_undocumented_answer(
    fuzz_cluster, openapi_document, tmp_path
):
    _run(
        "admin",
        fuzz_cluster,
        openapi_document,
        tmp_path,
        {
            ENV_TOKEN: fuzz_cluster.airflow_token("admin"),
            ENV_AIRFLOW_URL: fuzz_cluster.url,
            ENV_PASSWORD: fuzz_cluster.passwords["admin"],
        },
        checks=(),
    )


def test_schemathesis_without_credentials_gets_401_and_no_server_error(
    fuzz_cluster, openapi_document, tmp_path
):
    _run("anonymous", fuzz_cluster, openapi_document, tmp_path, {}, checks=("headrace_anonymous_gets_401",))


# --- Hooks of the `schemathesis run` process (this file, loaded by path under HOOKS_MODULE) -------


def _register_hooks() -> None:
    import schemathesis

    admin = os.environ[ENV_PASS] == "admin"

    def fresh_token() -> str:
        """A token of its own, from Airflow's ``POST /auth/token`` (not rate limited by Headrace)."""
        response = requests.post(
            f"{os.environ[ENV_AIRFLOW_URL]}/auth/token",
            json={"username": "admin", "password": os.environ[ENV_PASSWORD]},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def _bound_pipeline_waits(case: Any) -> None:
        # A synchronous run (``async: false``, or anything the server coerces to it, such as ``0``)
        # holds the request open for up to ``wait_seconds`` (default 60, at most 600) while the
        # scheduler works through every run the cases triggered. So every wait the server may accept
        # (also ``60.0`` or ``"60"``) becomes one second, and an absent one is sent as one second:
        # the same polling loop runs, and the run stays bounded. Values the server must refuse
        # (out of range, not a number) are sent unchanged.
        body = case.body
        if case.operation.label != PIPELINE_RUN or not isinstance(body, dict):
            return
        wait = body.get("wait_seconds", PIPELINE_WAIT_SECONDS + 1)
        try:
            seconds = float(wait) if isinstance(wait, int | float | str) else None
        except (ValueError, OverflowError):  # e.g. "abc", 10**400
            seconds = None
        if seconds is not None and PIPELINE_WAIT_SECONDS < seconds <= 600:
            body["wait_seconds"] = PIPELINE_WAIT_SECONDS

    @schemathesis.hook
    def before_call(context, case, kwargs):
        _bound_pipeline_waits(case)
        if admin:
            # Logging out revokes the token it is sent with: each logout case spends a token of its own,
            # so the cases after it still run as the administrator.
            token = fresh_token() if case.operation.label == LOGOUT else os.environ[ENV_TOKEN]
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    @schemathesis.check
    def headrace_not_rate_limited(ctx, response, case):
        """A 429 is documented, but here it means the run's budget ran out and the case tested nothing."""
        if response.status_code == 429:
            raise AssertionError("429: rate limited; the run's budgets (see fuzz_cluster) are too small")

    @schemathesis.check
    def headrace_anonymous_gets_401(ctx, response, case):
        """Without credentials an operation that declares a security requirement answers 401.

        Not for the coverage phase's probes with a method the path does not declare (a 405 before any
        authentication, like a path no route matches): they are no request to the operation."""
        declared = case.method.upper() == case.operation.method.upper()
        if declared and case.operation.definition.raw.get("security") and response.status_code != 401:
            raise AssertionError(f"expected 401 without credentials, got {response.status_code}")


if __name__ == HOOKS_MODULE:
    _register_hooks()
