"""The binary job queue end to end: the real api-server of ``airflow_cluster``, real ``headrace
executor`` processes and job binaries (shell scripts) served by a loopback HTTP server of this test.

Jobs are submitted and read with a ``write``-scoped API key and claimed with an ``executor``-scoped
one, both created once for the module through ``POST /auth/api-keys``, as a deployment's operator
would. Each test uses its own job ``type`` and its executors claim only that type, so no executor
here takes another test's job. The SIGKILL test relies on the cluster's short
``[headrace] job_heartbeat_timeout`` (``AIRFLOW__HEADRACE__JOB_HEARTBEAT_TIMEOUT`` in
:mod:`tests.e2e.cluster`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e

HEADRACE = str(Path(sys.executable).with_name("headrace"))
HEARTBEAT_INTERVAL = "1"  # well below the cluster's job_heartbeat_timeout

ECHO = b"""#!/bin/sh
for arg in "$@"; do printf 'arg=[%s]\\n' "$arg"; done
printf 'GREETING=[%s]\\n' "$GREETING"
printf 'HEADRACE_API_KEY=[%s]\\n' "${HEADRACE_API_KEY:-unset}"
echo "a line on stderr" >&2
"""
FAILING = b"""#!/bin/sh
echo "partial output before the failure"
echo "bad input: $1" >&2
exit 3
"""
# What the submitter vouched for (its sha256 goes into the job) ...
GENUINE = b"""#!/bin/sh
echo "the genuine binary"
"""
# ... and what the server hands out instead: it would leave a marker file if it ever ran.
TAMPERED = b"""#!/bin/sh
touch "$1"
echo "the tampered binary ran"
"""
# Long enough to kill its executor while it runs; logs its pid so each run can be told apart.
SLOW = b"""#!/bin/sh
echo "$$" >> "$PID_LOG"
echo "started pid $$"
sleep 5
echo "finished pid $$"
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class BinaryServer:
    directory: Path
    url: str
    requested: list[str] = field(default_factory=list)

    def serve(self, name: str, content: bytes) -> str:
        (self.directory / name).write_bytes(content)
        return f"{self.url}/{name}"


@pytest.fixture(scope="module")
def binaries(tmp_path_factory) -> Iterator[BinaryServer]:
    """A ThreadingHTTPServer on 127.0.0.1 serving files of a temporary folder; it records each GET."""
    directory = tmp_path_factory.mktemp("binaries")
    requested: list[str] = []

    class Recording(_Handler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Recording, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield BinaryServer(directory, f"http://127.0.0.1:{server.server_address[1]}", requested)
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Keys:
    executor: str  # scope "executor": claim, heartbeat, complete, fail
    client: str  # scope "write": submit and read jobs


def _api_key(cluster, admin: dict[str, str], name: str, scope: str) -> str:
    created = requests.post(
        f"{cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": name, "scopes": [scope], "expires_in_days": 1},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["key"]


@pytest.fixture(scope="module")
def keys(airflow_cluster) -> Keys:
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    return Keys(
        executor=_api_key(airflow_cluster, admin, "e2e-jobs-executor", "executor"),
        client=_api_key(airflow_cluster, admin, "e2e-jobs-client", "write"),
    )


@dataclass
class RunningExecutor:
    executor_id: str
    process: subprocess.Popen
    log_path: Path
    cache_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _start_executor(cluster, keys: Keys, folder: Path, executor_id: str, job_type: str) -> RunningExecutor:
    """A real ``headrace executor`` in its own session (so its whole process group can be signalled)."""
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{executor_id}.log"
    cache_dir = folder / f"{executor_id}-cache"
    command = [
        HEADRACE,
        "executor",
        "--api-url",
        cluster.api,
        "--executor-id",
        executor_id,
        "--types",
        job_type,
        "--allow-url-prefix",
        "http://127.0.0.1:",
        "--poll-wait",
        "2",
        "--heartbeat-interval",
        HEARTBEAT_INTERVAL,
        "--grace-period",
        "10",
        "--cache-dir",
        str(cache_dir),
    ]
    env = {**os.environ, "HEADRACE_API_KEY": keys.executor}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return RunningExecutor(executor_id, process, log_path, cache_dir)


def _stop_executor(executor: RunningExecutor) -> None:
    """SIGTERM to its process group (a graceful stop), SIGKILL if it is still there after 60 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(executor.process.pid, signal.SIGTERM)
    try:
        executor.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(executor.process.pid, signal.SIGKILL)
        executor.process.wait(timeout=10)
    print(f"--- log of executor {executor.executor_id} ---\n{executor.log()[-3000:]}")


@pytest.fixture(scope="module")
def executor(airflow_cluster, keys: Keys, tmp_path_factory) -> Iterator[RunningExecutor]:
    """One executor for the jobs of type ``e2e-jobs``."""
    running = _start_executor(
        airflow_cluster, keys, tmp_path_factory.mktemp("executor"), "e2e-jobs-main", "e2e-jobs"
    )
    try:
        yield running
    finally:
        _stop_executor(running)


def _submit(cluster, keys: Keys, job_type: str, url: str, sha: str, arguments=(), env=None) -> str:
    body = {
        "type": job_type,
        "binary_url": url,
        "binary_sha256": sha,
        "arguments": list(arguments),
        "env_variables": dict(env or {}),
        "priority": "foreground",
    }
    created = requests.post(f"{cluster.api}/jobs", headers={"X-API-Key": keys.client}, json=body, timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    return created.json()["id"]


def _job(cluster, keys: Keys, job_id: str) -> dict[str, Any]:
    answer = requests.get(f"{cluster.api}/jobs/{job_id}", headers={"X-API-Key": keys.client}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _wait_for(
    cluster,
    keys: Keys,
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    *executors: RunningExecutor,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(cluster, keys, job_id)
        if done(job):
            return job
        for running in executors:
            if running.process.poll() is not None:
                pytest.fail(f"executor {running.executor_id} exited:\n{running.log()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(f"{e.executor_id}:\n{e.log()[-2000:]}" for e in executors)
            pytest.fail(f"job {job_id} still {job['status']} after {timeout:.0f}s: {job}\n{logs}")
        time.sleep(0.5)


def _ended(job: dict[str, Any]) -> bool:
    return job["status"] in ("completed", "failed", "cancelled")


def test_a_job_completes_with_its_arguments_and_env_in_stdout(airflow_cluster, keys, binaries, executor):
    url = binaries.serve("echo", ECHO)
    arguments = ["plain", "two words", "$HOME; echo injected", "--name=Zoë"]
    job_id = _submit(
        airflow_cluster, keys, "e2e-jobs", url, sha256(ECHO), arguments, {"GREETING": "hello from e2e"}
    )

    job = _wait_for(airflow_cluster, keys, job_id, _ended, 60, executor)

    assert job["status"] == "completed", job
    assert job["exit_code"] == 0
    assert job["error_message"] is None
    # Every argument arrives as one argv entry, untouched by any shell; the job's env is there and
    # the executor's own environment (its API key) is not.
    assert job["stdout"] == (
        "arg=[plain]\n"
        "arg=[two words]\n"
        "arg=[$HOME; echo injected]\n"
        "arg=[--name=Zoë]\n"
        "GREETING=[hello from e2e]\n"
        "HEADRACE_API_KEY=[unset]\n"
    )
    assert job["stderr"] == "a line on stderr\n"
    assert job["executor_id"] == executor.executor_id
    assert job["arguments"] == arguments and job["env_variables"] == {"GREETING": "hello from e2e"}
    assert [(a["number"], a["executor_id"], a["status"]) for a in job["attempts"]] == [
        (1, executor.executor_id, "completed")
    ]
    assert job["completed_at"] and job["started_at"] <= job["completed_at"]
    assert f"job {job_id} completed: exit_code=0" in executor.log()


def test_a_tampered_binary_fails_without_running(airflow_cluster, keys, binaries, executor, tmp_path):
    url = binaries.serve("tampered", TAMPERED)
    marker = tmp_path / "the-tampered-binary-ran"
    job_id = _submit(airflow_cluster, keys, "e2e-jobs", url, sha256(GENUINE), [str(marker)])

    job = _wait_for(airflow_cluster, keys, job_id, _ended, 60, executor)

    assert job["status"] == "failed", job
    assert "/tampered" in binaries.requested  # it was downloaded, then refused
    assert job["error_message"].startswith("checksum mismatch: "), job["error_message"]
    assert sha256(GENUINE) in job["error_message"] and sha256(TAMPERED) in job["error_message"]
    assert job["error_message"].endswith("not executed")
    assert job["exit_code"] is None  # never ran
    assert not job["stdout"]
    assert not marker.exists()
    cached = [path.read_bytes() for path in executor.cache_dir.rglob("*") if path.is_file()]
    assert TAMPERED not in cached  # not kept for a later run either
    assert executor.process.poll() is None


def test_a_non_zero_exit_fails_with_its_code(airflow_cluster, keys, binaries, executor):
    url = binaries.serve("failing", FAILING)
    job_id = _submit(airflow_cluster, keys, "e2e-jobs", url, sha256(FAILING), ["row 17"])

    job = _wait_for(airflow_cluster, keys, job_id, _ended, 60, executor)

    assert job["status"] == "failed", job
    assert job["exit_code"] == 3
    assert job["error_message"] == "exit_code: binary exited with code 3"
    assert job["stdout"] == "partial output before the failure\n"
    assert job["stderr"] == "bad input: row 17\n"
    assert [(a["number"], a["status"]) for a in job["attempts"]] == [(1, "failed")]
    assert f"job {job_id} failed: exit_code: binary exited with code 3" in executor.log()


def _kill_leftover_binaries(pid_log: Path, marker: str) -> None:
    """The binary runs in a session of its own, so killing its executor does not end it: end every
    run of SLOW still there (its command line names this test's cache folder: never a reused pid)."""
    if not pid_log.exists():
        return
    for pid in map(int, pid_log.read_text().split()):
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                os.killpg(pid, signal.SIGKILL)


def test_an_executor_killed_mid_job_leaves_the_job_to_a_second_executor(
    airflow_cluster, keys, binaries, tmp_path
):
    job_type = "e2e-jobs-rescue"
    url = binaries.serve("slow", SLOW)
    pid_log = tmp_path / "pids"
    heartbeat_timeout = float(airflow_cluster.env.get("AIRFLOW__HEADRACE__JOB_HEARTBEAT_TIMEOUT", "60"))
    first = second = None
    try:
        first = _start_executor(airflow_cluster, keys, tmp_path, f"e2e-a-{uuid.uuid4().hex[:8]}", job_type)
        job_id = _submit(airflow_cluster, keys, job_type, url, sha256(SLOW), env={"PID_LOG": str(pid_log)})

        def runs_under_first(job: dict[str, Any]) -> bool:
            started = pid_log.exists() and pid_log.read_text().endswith("\n")
            return job["status"] == "running" and job["executor_id"] == first.executor_id and started

        _wait_for(airflow_cluster, keys, job_id, runs_under_first, 60, first)
        (first_pid,) = map(int, pid_log.read_text().split())  # its binary has started

        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        assert first.process.returncode == -signal.SIGKILL
        killed_at = time.monotonic()
        job = _job(airflow_cluster, keys, job_id)
        assert (job["status"], job["executor_id"], job["attempt"]) == ("running", first.executor_id, 1)

        second = _start_executor(airflow_cluster, keys, tmp_path, f"e2e-b-{uuid.uuid4().hex[:8]}", job_type)
        job = _wait_for(airflow_cluster, keys, job_id, _ended, heartbeat_timeout + 60, second)
        rescued_after = time.monotonic() - killed_at

        assert job["status"] == "completed", job
        assert job["exit_code"] == 0
        assert job["executor_id"] == second.executor_id
        assert job["attempt"] == 2
        assert [(a["number"], a["executor_id"], a["status"]) for a in job["attempts"]] == [
            (1, first.executor_id, "lost"),
            (2, second.executor_id, "completed"),
        ]
        lost, completed = job["attempts"]
        assert lost["ended_at"] and lost["ended_at"] <= completed["started_at"]
        # The job's output is that of the second executor's run, a process other than the first run.
        first_run, second_run = map(int, pid_log.read_text().split())
        assert first_run == first_pid and second_run != first_pid
        assert job["stdout"] == f"started pid {second_run}\nfinished pid {second_run}\n"
        # Not rescued before the heartbeat timeout had passed since the last beat (at most ~1 s old).
        assert rescued_after >= heartbeat_timeout - float(HEARTBEAT_INTERVAL) - 1, rescued_after
        assert f"job {job_id} completed: exit_code=0" in second.log()
        assert second.process.poll() is None
    finally:
        for running in (second, first):
            if running is not None:
                _stop_executor(running)
        _kill_leftover_binaries(pid_log, str(tmp_path))
