"""``make run`` stops cleanly: SIGTERM (what Ctrl-C's SIGINT does too) ends ``scripts/run.sh``, the
script ``make run`` runs once installed, with exit status 0 and no process of Airflow standalone left.

A real ``airflow standalone`` (scheduler, api-server, dag-processor, triggerer, their log servers and
LocalExecutor workers) on a scratch AIRFLOW_HOME and free ports; slow (a minute or more). While it
runs, the triggerer's default log-server port 8794 is held by this test, as a second Airflow on the
machine would: the script must pick a free port instead and say which in its banner.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.e2e.deployment import free_port, listening, run_sh

pytestmark = pytest.mark.e2e
STOP_SECONDS = 45  # the script's own budget: 20 s graceful, then SIGKILL


@contextlib.contextmanager
def _held(port: int) -> Iterator[None]:
    """Listen on ``port`` (all addresses) for the duration, unless another process already does."""
    sock = socket.socket()
    try:
        sock.bind(("0.0.0.0", port))
        sock.listen()
    except OSError:
        pass  # taken already: the condition this test sets up
    try:
        yield
    finally:
        sock.close()


def _members(session: int, home: Path) -> list[psutil.Process]:
    """Processes of the session standalone started (its descendants), or with this AIRFLOW_HOME."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            ours = session in (os.getsid(process.pid), os.getpgid(process.pid))
            if ours or process.environ().get("AIRFLOW_HOME") == str(home):
                found.append(process)
    return found


def test_sigterm_stops_the_deployment_with_status_0_and_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    api_port, worker_log_port = free_port(), free_port()
    worker_log = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port)}  # set: used as is
    with _held(8794), run_sh(home, tmp_path / "run.log", port=api_port, env=worker_log) as deployment:
        script, text = deployment.process, deployment.banner
        health = requests.get(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=30)
        assert health.status_code == 200, health.text

        ports = re.search(r"Log servers:\s+ports (\d+) \(tasks\), (\d+) \(triggerer\)", text)
        assert ports, text[-3000:]
        assert int(ports[1]) == worker_log_port
        trigger_log_port = int(ports[2])
        assert trigger_log_port != 8794  # the default was taken: another one, said in the banner
        assert "Expected warnings" in text and "looks like production" in text
        standalone = next(
            c for c in psutil.Process(script.pid).children() if "standalone" in " ".join(c.cmdline())
        )
        session = os.getsid(standalone.pid)
        assert session != os.getsid(script.pid)  # its own session: Ctrl-C reaches only the script
        deadline = time.monotonic() + 120
        while not listening(trigger_log_port):  # the triggerer's log server really uses it
            assert time.monotonic() < deadline, f"nothing listens on {trigger_log_port}"
            time.sleep(1)
        assert len(_members(session, home)) >= 5  # standalone, scheduler, api-server, ...

        stopped_at = time.monotonic()
        script.send_signal(signal.SIGTERM)
        status = script.wait(timeout=STOP_SECONDS + 15)
        seconds = time.monotonic() - stopped_at

    text = deployment.log.read_text(errors="replace")
    assert status == 0, text[-3000:]
    assert seconds < STOP_SECONDS, f"took {seconds:.0f} s to stop"
    assert "Stopped." in text
    left = _members(session, home)
    assert not left, [(p.pid, p.name()) for p in left]
    assert not listening(api_port) and not listening(worker_log_port)
