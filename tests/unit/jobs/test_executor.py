"""``headrace executor`` as a real subprocess against the real Flask app, both on loopback.

The app (the api-server's plugin app of tests/conftest.py) is served by a werkzeug server in a
thread; job binaries by an http.server in another. The executor only ever sees the HTTP API.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import BASE

HEADRACE = str(Path(sys.executable).with_name("headrace"))


@pytest.fixture(scope="module")
def api_url(app) -> Iterator[str]:
    pytest.importorskip("headrace.api.routes.jobs", reason="the job-queue routes are not there yet")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{BASE}"
    server.shutdown()


@pytest.fixture(scope="module")
def binaries(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("binaries")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _loopback_binaries_allowed(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST", "http://127.0.0.1:")


@pytest.fixture
def executor_key(client, admin_headers) -> str:
    body = {"name": "executor-test", "scopes": ["executor"], "expires_in_days": 1}
    response = client.post(f"{BASE}/auth/api-keys", headers=admin_headers, json=body)
    assert response.status_code == 201, response.json
    return response.json["data"]["key"]


def publish(binaries: tuple[Path, str], name: str, script: str) -> tuple[str, str]:
    root, url = binaries
    data = textwrap.dedent(script).lstrip().encode()
    (root / name).write_bytes(data)
    return url + name, hashlib.sha256(data).hexdigest()


def submit(client, headers, url: str, sha: str, **extra) -> str:
    body = {"type": "exec-test", "binary_url": url, "binary_sha256": sha, "priority": "foreground", **extra}
    response = client.post(f"{BASE}/jobs", headers=headers, json=body)
    assert response.status_code in (200, 201), response.json
    return response.json["id"]


def wait_for(client, headers, job_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"{BASE}/jobs/{job_id}", headers=headers).json
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


class Daemon:
    """A running ``headrace executor`` subprocess; its log is read after it ends."""

    def __init__(self, api_url: str, key: str, binaries_url: str, tmp: Path, *extra: str) -> None:
        self.log = tmp / "executor.log"
        command = [HEADRACE, "executor", "--api-url", api_url, "--executor-id", "test-exec-1"]
        command += ["--allow-url-prefix", binaries_url, "--poll-wait", "1", "--types", "exec-test"]
        command += ["--cache-dir", str(tmp / "cache"), "--heartbeat-interval", "0.3", *extra]
        env = {**os.environ, "HEADRACE_API_KEY": key}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def text(self) -> str:
        return self.log.read_text()


@pytest.fixture
def daemon_factory(api_url, executor_key, binaries, tmp_path) -> Iterator:
    started: list[Daemon] = []

    def start(*extra: str) -> Daemon:
        daemon = Daemon(api_url, executor_key, binaries[1], tmp_path, *extra)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def test_the_executor_runs_a_job_and_reports_its_output(client, admin_headers, binaries, daemon_factory):
    url, sha = publish(binaries, "hello.sh", '#!/bin/sh\necho "hello $1 from $WHO"\necho warn >&2\n')
    job_id = submit(client, admin_headers, url, sha, arguments=["world"], env_variables={"WHO": "headrace"})
    daemon = daemon_factory()

    job = wait_for(client, admin_headers, job_id, {"completed", "failed"})

    assert job["status"] == "completed", job
    assert (job["stdout"], job["stderr"], job["exit_code"]) == ("hello world from headrace\n", "warn\n", 0)
    assert job["executor_id"] == "test-exec-1"
    assert daemon.stop() == 0
    log = daemon.text()
    assert f"job {job_id} claimed" in log and f"job {job_id} running" in log
    assert f"job {job_id} completed" in log


def test_failures_say_why(client, admin_headers, binaries, daemon_factory):
    url, sha = publish(binaries, "exit3.sh", "#!/bin/sh\necho partial\nexit 3\n")
    nonzero = submit(client, admin_headers, url, sha)
    url2, _ = publish(binaries, "tampered.sh", "#!/bin/sh\necho never\n")
    tampered = submit(client, admin_headers, url2, hashlib.sha256(b"something else").hexdigest())
    daemon = daemon_factory()

    first = wait_for(client, admin_headers, nonzero, {"completed", "failed"})
    second = wait_for(client, admin_headers, tampered, {"completed", "failed"})
    daemon.stop()

    assert first["status"] == "failed" and first["exit_code"] == 3 and first["stdout"] == "partial\n"
    assert first["error_message"] == "exit_code: binary exited with code 3"
    assert second["status"] == "failed" and second["stdout"] in ("", None)
    assert second["error_message"].startswith("checksum mismatch")


def test_sigterm_lets_a_running_job_finish(client, admin_headers, binaries, daemon_factory):
    url, sha = publish(binaries, "slow.sh", "#!/bin/sh\nsleep 2\necho finished\n")
    job_id = submit(client, admin_headers, url, sha)
    daemon = daemon_factory("--grace-period", "20")
    assert wait_for(client, admin_headers, job_id, {"running"})["status"] == "running"

    started = time.monotonic()
    assert daemon.stop() == 0
    job = client.get(f"{BASE}/jobs/{job_id}", headers=admin_headers).json

    assert job["status"] == "completed" and job["stdout"] == "finished\n"
    assert time.monotonic() - started < 15
    assert "stopping: no new claims" in daemon.text()


def test_sigterm_fails_what_outlives_the_grace_period(
    client, admin_headers, binaries, daemon_factory, tmp_path
):
    pidfile = tmp_path / "child.pid"
    url, sha = publish(binaries, "forever.sh", f"#!/bin/sh\nsleep 300 &\necho $! > {pidfile}\nwait\n")
    job_id = submit(client, admin_headers, url, sha)
    daemon = daemon_factory("--grace-period", "1")
    assert wait_for(client, admin_headers, job_id, {"running"})["status"] == "running"
    while not pidfile.exists():
        time.sleep(0.05)

    started = time.monotonic()
    assert daemon.stop() == 0
    job = client.get(f"{BASE}/jobs/{job_id}", headers=admin_headers).json

    assert time.monotonic() - started < 15
    assert job["status"] == "failed", job
    assert job["error_message"].startswith("executor shutdown: test-exec-1 stopped")
    child = int(pidfile.read_text())
    assert (
        not Path(f"/proc/{child}").exists()
        or "Z" in Path(f"/proc/{child}/stat").read_text().split(")")[1][:3]
    )


def test_a_force_cancel_kills_the_running_binary(client, admin_headers, binaries, daemon_factory):
    url, sha = publish(binaries, "sleepy.sh", "#!/bin/sh\necho started\nsleep 300\n")
    job_id = submit(client, admin_headers, url, sha)
    daemon = daemon_factory()
    assert wait_for(client, admin_headers, job_id, {"running"})["status"] == "running"

    response = client.delete(f"{BASE}/jobs/{job_id}?force=true", headers=admin_headers)
    assert response.status_code in (200, 202), response.json
    job = wait_for(client, admin_headers, job_id, {"cancelled", "failed", "completed"}, timeout=15)
    daemon.stop()

    assert job["status"] == "cancelled", job
    assert f"job {job_id} cancelled" in daemon.text()


def test_output_that_json_escaping_inflates_still_reaches_the_api(
    client, admin_headers, binaries, daemon_factory
):
    """1 MB of control characters is 6 MB of JSON per stream: the report must still fit the API."""
    flood = "head -c 3000000 /dev/zero | tr '\\0' '\\1'"
    url, sha = publish(binaries, "control.sh", f"#!/bin/sh\n{flood}\n{flood} >&2\n")
    job_id = submit(client, admin_headers, url, sha)
    daemon = daemon_factory()

    job = wait_for(client, admin_headers, job_id, {"completed", "failed"})
    daemon.stop()

    assert job["status"] == "completed", job
    for name in ("stdout", "stderr"):
        assert job[name].startswith("\x01" * 1000) and "[headrace: output truncated" in job[name][-100:]
        assert len(job[name].encode()) <= 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_concurrent_jobs_of_the_claimed_types_and_metrics(client, admin_headers, binaries, daemon_factory):
    url, sha = publish(binaries, "two.sh", "#!/bin/sh\nsleep 2\necho $1\n")
    ours = [submit(client, admin_headers, url, sha, arguments=[str(n)]) for n in range(2)]
    other = submit(client, admin_headers, url, sha, type="not-for-this-executor")
    port = _free_port()
    started = time.monotonic()
    daemon = daemon_factory("--concurrency", "2", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1")

    jobs = [wait_for(client, admin_headers, job_id, {"completed", "failed"}) for job_id in ours]
    elapsed = time.monotonic() - started
    # The executor counts a job once its complete call has returned, just after the server stored it.
    finished = 'headrace_executor_jobs_finished_total{outcome="completed"} 2.0'
    deadline = time.monotonic() + 10
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    while finished not in metrics and time.monotonic() < deadline:
        time.sleep(0.1)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    daemon.stop()

    assert [(job["status"], job["stdout"]) for job in jobs] == [("completed", "0\n"), ("completed", "1\n")]
    assert elapsed < 3.9, "the two 2-second jobs did not run side by side"
    assert client.get(f"{BASE}/jobs/{other}", headers=admin_headers).json["status"] == "pending"
    assert finished in metrics
    assert "headrace_executor_jobs_running 0.0" in metrics
    client.delete(f"{BASE}/jobs/{other}", headers=admin_headers)


def test_headrace_executor_help_names_its_options():
    result = subprocess.run([HEADRACE, "executor", "--help"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0
    for option in (
        "--api-url",
        "--api-key",
        "--executor-id",
        "--concurrency",
        "--types",
        "--allow-url-prefix",
    ):
        assert option in result.stdout
    for option in ("--job-timeout", "--grace-period", "--metrics-port"):
        assert option in result.stdout


def test_headrace_executor_refuses_to_start_without_a_key():
    env = {k: v for k, v in os.environ.items() if k != "HEADRACE_API_KEY"}
    result = subprocess.run(
        [HEADRACE, "executor", "--api-url", "http://127.0.0.1:9/x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 2 and "HEADRACE_API_KEY" in result.stderr


def test_an_unreachable_api_is_retried_with_backoff_and_sigterm_still_stops(tmp_path):
    port = _free_port()  # nothing listens there
    env = {**os.environ, "HEADRACE_API_KEY": "any"}
    command = [
        HEADRACE,
        "executor",
        "--api-url",
        f"http://127.0.0.1:{port}/api/v1",
        "--cache-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, log = proc.communicate(timeout=30)

    assert proc.returncode == 0
    retries = [line for line in log.splitlines() if "claim failed" in line]
    assert 2 <= len(retries) <= 4, log  # 1 s, 2 s, ... with jitter: not a busy loop
    assert "stopped" in log.splitlines()[-1]
