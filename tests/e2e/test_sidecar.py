"""``headrace sidecar`` in front of the real job-monitoring API, through a TCP proxy this test cuts.

A real sidecar process forwards to the api-server through a loopback TCP proxy; with the proxy down
its events are spooled, the sidecar is SIGKILLed while they wait and restarted on the same spool,
and once the proxy is back every acknowledged event (one job each) shows up in ``GET /v1/jobs``
exactly once; sending them all again doubles nothing. The key has the ``events`` scope only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

HEADRACE = str(Path(sys.executable).with_name("headrace"))
MONITORING = "/pluginsv2/headrace/job-monitoring"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Proxy:
    """A TCP proxy on a fixed loopback port; ``stop()`` closes the port and every open connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener:
            with _quiet():  # wakes the accept() of the other thread (close alone does not, on Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                with _quiet():
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with _quiet():
            while data := source.recv(65536):
                sink.sendall(data)
        with _quiet():
            sink.shutdown(socket.SHUT_WR)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        return kind is not None and issubclass(kind, OSError)


@pytest.fixture
def proxy(airflow_cluster) -> Iterator[Proxy]:
    host, port = airflow_cluster.url.removeprefix("http://").split(":")
    proxy = Proxy((host, int(port)))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def events_key(airflow_cluster) -> str:
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{airflow_cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": "e2e-sidecar", "scopes": ["events"], "expires_in_days": 1},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["key"]


def _event(app: str, job: str) -> dict:
    return {
        "idempotency_key": f"{job}-started",
        "site_id": "local",
        "app": {"app_id": app, "name": app, "version": "1.0.0"},
        "entity": {"type": "job", "id": job, "parent_id": None, "business_key": job, "sub_key": None},
        "event": {
            "kind": "started",
            "at": "2026-12-01T12:00:00Z",
            "status": "running",
            "metrics": {},
            "metadata": {},
        },
    }


def _sidecar(proxy: Proxy, key: str, spool: Path, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            HEADRACE,
            "sidecar",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            f"http://127.0.0.1:{proxy.port}{MONITORING}",
            "--spool-dir",
            str(spool),
            "--backoff-max",
            "0.5",
            "--upstream-timeout",
            "10",
        ],
        env={**os.environ, "HEADRACE_API_KEY": key},
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
        start_new_session=True,
    )

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return requests.get(f"http://127.0.0.1:{port}/v1/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    _wait(up, 30, "the sidecar to listen")
    return process


def test_spooled_events_survive_kill_9_and_arrive_exactly_once(airflow_cluster, proxy, events_key, tmp_path):
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    _wait(
        lambda: requests.get(f"{airflow_cluster.url}{MONITORING}/v1/healthz", timeout=5).status_code == 200,
        30,
        "the job-monitoring API",
    )
    app = f"sidecar-e2e-{uuid.uuid4().hex[:8]}"
    spool, log, port = tmp_path / "spool", tmp_path / "sidecar.log", _free_port()
    side = f"http://127.0.0.1:{port}/v1/ingest"
    events = [_event(app, f"{app}-job-{i:02d}") for i in range(21)]

    def jobs() -> list[str]:
        answer = requests.get(
            f"{airflow_cluster.url}{MONITORING}/v1/jobs",
            params={"app_name": app, "limit": 1000},
            headers=admin,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return [item["job_id"] for item in answer.json()["items"]]

    proxy.start()
    first = _sidecar(proxy, events_key, spool, port, log)
    try:
        direct = requests.post(f"{side}/events", json=events[0], timeout=30).json()
        assert direct == {"ok": True, "forwarded": 1, "spooled": 0}, direct

        proxy.stop()
        answers = [requests.post(f"{side}/events", json=e, timeout=30).json() for e in events[1:11]]
        answers.append(requests.post(f"{side}/events:batch", json=events[11:16], timeout=30).json())
        assert [a["spooled"] for a in answers] == [1] * 10 + [5], answers
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    second = _sidecar(proxy, events_key, spool, port, log)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/v1/healthz", timeout=5).json()["spool_count"] == 15
        later = requests.post(f"{side}/events:batch", json=events[16:], timeout=30).json()
        assert later["spooled"] == 5 and later["forwarded"] == 0  # behind the spool, in order
        assert jobs() == [events[0]["entity"]["id"]]

        proxy.start()
        _wait(lambda: len(jobs()) >= 21, 30, "the replay")
        _wait(
            lambda: requests.get(f"http://127.0.0.1:{port}/v1/healthz", timeout=5).json()["spool_count"] == 0,
            10,
            "an empty spool",
        )
        assert sorted(jobs()) == sorted(e["entity"]["id"] for e in events)  # each exactly once

        again = requests.post(f"{side}/events:batch", json=events, timeout=30).json()
        assert again["ok"] and again["forwarded"] == 21 and again["spooled"] == 0
        assert len(jobs()) == 21  # duplicates changed nothing

        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        if second.poll() is None:
            second.kill()
    assert events_key not in log.read_text()
