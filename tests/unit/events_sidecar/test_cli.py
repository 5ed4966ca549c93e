"""``headrace sidecar`` as a real process: no Airflow in it, the key kept out of sight, kill -9 safe."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.unit.events_sidecar.upstream import KEY, event, fake_upstream, wait_for

HEADRACE = Path(sys.executable).with_name("headrace")


def test_the_sidecar_imports_neither_airflow_nor_flask_nor_sqlalchemy():
    probe = "import sys, headrace.cli, headrace.events.sidecar; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for heavy in ("airflow", "flask", "sqlalchemy"):
        assert f"'{heavy}'" not in loaded and f"'{heavy}." not in loaded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(upstream_url: str, spool: Path, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(HEADRACE),
            "sidecar",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            upstream_url,
            "--spool-dir",
            str(spool),
            "--backoff-max",
            "0.2",
            "--upstream-timeout",
            "2",
        ],
        env={**os.environ, "HEADRACE_API_KEY": KEY},
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - the child owns it
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            assert process.poll() is None, log.read_text()
            return False

    wait_for(up, timeout=30, interval=0.05)
    return process


def test_acknowledged_events_survive_kill_9_and_arrive_exactly_once(tmp_path):
    spool, log, port = tmp_path / "spool", tmp_path / "sidecar.log", _free_port()
    with fake_upstream() as upstream:
        upstream.status = 503
        first = _spawn(upstream.url, spool, port, log)
        try:
            url = f"http://127.0.0.1:{port}/v1/ingest/events"
            acked = [f"k{i}" for i in range(30) if httpx.post(url, json=event(f"k{i}")).json()["spooled"]]
            assert len(acked) == 30
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)

        upstream.status = 200
        second = _spawn(upstream.url, spool, port, log)
        try:
            wait_for(lambda: len(upstream.ids()) == 30)
            assert upstream.ids() == acked  # every acknowledged event, in order, none twice
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/v1/healthz").json()["spool_count"] == 0)
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0  # graceful stop
        finally:
            if second.poll() is None:
                second.kill()
    text = log.read_text()
    assert KEY not in text and "secret-value" not in text
    assert "30 event(s) waiting" in text
