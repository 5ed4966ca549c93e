"""A ``make run`` deployment for an end-to-end test: ``scripts/run.sh``, what ``make run`` runs once
installed (Airflow standalone with Headrace), on a scratch ``AIRFLOW_HOME`` and a free API port.

The script gets the test process's environment without any ``AIRFLOW*`` variable of the test
harness, plus only what the test sets, as a reader's terminal would. :func:`run_sh` returns once the
script printed its banner and stops the script's process group afterwards, whatever the test did.
Used by ``test_make_run.py`` and ``test_readme.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

STARTUP_SECONDS = 600  # a loaded 2-core host needs minutes; an idle one about one
BANNER_END = "Stop with Ctrl-C"  # the banner's last line


@dataclass(frozen=True)
class Deployment:
    process: subprocess.Popen  # scripts/run.sh, leader of its own process group
    home: Path  # its AIRFLOW_HOME
    port: int  # its AIRFLOW__API__PORT
    log: Path  # its stdout and stderr
    banner: str  # what it printed up to and with its banner


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def end_group(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to ``process``'s group, SIGKILL after ``grace`` seconds; nothing if it is gone already."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def run_sh(
    home: Path,
    log: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[Deployment]:
    """``scripts/run.sh`` with ``AIRFLOW_HOME=home``, ``AIRFLOW__API__PORT=port`` (default: a free one)
    and ``env``, writing to ``log``; yields once its banner is printed (fails the test if the script
    exits first or prints none within ``startup_seconds``); then stops its process group."""
    port = port or free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    environment.update(
        {
            "VENV": str(Path(sys.executable).parent.parent),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__API__PORT": str(port),
            **(env or {}),
        }
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "run.sh")],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while BANNER_END not in (text := log.read_text(errors="replace")):
            if process.poll() is not None:
                pytest.fail(f"scripts/run.sh exited with {process.returncode}:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"scripts/run.sh printed no banner within {startup_seconds:.0f} s:\n{text[-4000:]}"
                )
            time.sleep(1)
        yield Deployment(process=process, home=home, port=port, log=log, banner=text)
    finally:
        end_group(process)
