"""The README walked top to bottom, as a newcomer would, against a ``make run`` deployment.

The deployment is started the way ``make run`` starts it once installed: ``scripts/run.sh`` (Airflow
standalone: SQLite, local storage, the Arrow engine) with only what the README tells the reader they
may set: ``AIRFLOW_HOME``, ``AIRFLOW__API__PORT`` (a free port, so that a second deployment on the
machine does not matter) and the binary URL allowlist of step 1; the log servers get free ports too.
Then every runnable block (see :mod:`tests.readme_blocks`) runs in order in one ``bash`` session, as
written, in the checkout; a Python block runs as ``.venv/bin/python`` in that session. A block fails
the test when a command of it fails (``set -e``) or its output lacks what the README shows under it.
Afterwards the complete examples of ``docs/*.md`` run in the same session.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.deployment import Deployment, end_group, free_port, listening, run_sh
from tests.readme_blocks import Block, blocks, missing_output

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

# Fixed ports of the README (the sidecar's default and the binaries' folder); a walk at a time per host.
README_PORTS = (8000, 8001)
BLOCK_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def walk_lock() -> Iterator[None]:
    """One README walk per host at a time: it uses the README's fixed ports 8000 and 8001."""
    with open("/tmp/headrace-readme-walk.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for port in README_PORTS:
            if listening(port):
                pytest.fail(f"port {port}, which the README's walk uses, is taken on this host")
        yield


@pytest.fixture(scope="module")
def deployment(walk_lock, tmp_path_factory) -> Iterator[Deployment]:
    """``scripts/run.sh`` (what ``make run`` runs after installing), stopped as a whole afterwards."""
    home = tmp_path_factory.mktemp("readme-home")
    env = {
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST": "https://,http://127.0.0.1:8001/",
    }
    with run_sh(home, home.parent / "run.log", env=env) as started:
        yield started


class Session:
    """One ``bash`` that runs the blocks one after another, keeping variables and background jobs."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=(workdir / "shell.log").open("wb"),
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.count = 0
        self.walked = False  # set once the README's walk has completed

    def run(self, block: Block) -> str:
        """Run one block; its output. Fails the test when the block fails."""
        self.count += 1
        n = self.count
        out, done = self.workdir / f"{n}.out", self.workdir / f"{n}.rc"
        if block.language == "python":
            script = self.workdir / f"{n}.py"
            script.write_text(block.code)
            source = self.workdir / f"{n}.sh"
            source.write_text(f".venv/bin/python {script}\n")
        else:
            source = self.workdir / f"{n}.sh"
            source.write_text(block.code)
        # set -e: any failing command of the block fails it (and ends the session, which is the end
        # of the walk anyway); the status file says it completed.
        assert self.process.stdin is not None
        self.process.stdin.write(
            f"set -eo pipefail; source {source} > {out} 2>&1 < /dev/null; set +e; echo 0 > {done}\n"
        )
        self.process.stdin.flush()
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while not done.exists():
            output = out.read_text(errors="replace") if out.exists() else ""
            if self.process.poll() is not None:
                pytest.fail(
                    f"{block.where()} failed (exit {self.process.returncode}):\n{block.code}\n{output}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{block.where()} did not finish in {BLOCK_TIMEOUT:.0f} s:\n{block.code}\n{output}"
                )
            time.sleep(0.2)
        return out.read_text(errors="replace")

    def close(self) -> None:
        if self.process.stdin:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        end_group(self.process, grace=15)  # background jobs of the blocks are in its process group


@pytest.fixture(scope="module")
def session(deployment: Deployment, tmp_path_factory) -> Iterator[Session]:
    # The reader's second terminal: no AIRFLOW_* of the test harness, only what the README says to export.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(deployment.home), "AIRFLOW__API__PORT": str(deployment.port)})
    shell = Session(tmp_path_factory.mktemp("readme-walk"), env)
    yield shell
    shell.close()


def _mismatch(block: Block, output: str) -> str | None:
    """What the block printed that differs from what the page shows under it; None if it matches."""
    if block.expected and (piece := missing_output(block.expected, output)) is not None:
        return f"{block.where()} printed no {piece!r}:\n{block.code}\n--- output ---\n{output}"
    return None


def test_the_readme_walks_top_to_bottom(deployment: Deployment, session: Session) -> None:
    readme = blocks(REPO / "README.md")
    skipped = [b for b in readme if b.language in {"bash", "sh", "python"} and b.marker]
    for block in skipped:
        assert block.reason, f"{block.where()} is marked {block.marker} without saying why"
        print(f"not run: {block.where()} ({block.marker}: {block.reason})")
    # The banner shown under `make run` is what scripts/run.sh printed (with this deployment's port).
    (shown,) = [b for b in readme if b.language == "text" and "Headrace is running" in b.code]
    banner = shown.code.replace("localhost:8080", f"localhost:{deployment.port}")
    assert (piece := missing_output(banner, deployment.banner)) is None, f"make run printed no {piece!r}"

    ran, mismatches = 0, []
    for block in readme:
        if block.runnable:  # a failing block ends the walk; a different output is reported at the end
            if problem := _mismatch(block, session.run(block)):
                mismatches.append(problem)
            ran += 1
    session.walked = True
    assert not mismatches, "\n\n".join(mismatches)
    assert ran >= 15, f"only {ran} README blocks ran"


def test_the_complete_examples_of_the_docs_run(session: Session) -> None:
    """After the walk (its variables BASE, H ... set), every unmarked block of docs/*.md runs."""
    if not session.walked:
        pytest.skip("the README walk did not complete; these blocks use its BASE, H and data")
    ran = 0
    for path in sorted((REPO / "docs").glob("*.md")):
        for block in blocks(path):
            if block.runnable:
                output = session.run(block)
                assert (problem := _mismatch(block, output)) is None, problem
                # A doc's sequence may show an error answer on purpose (the DELETE of workflows.md cancels
                # only a running run: 409 WORKFLOW_NOT_RUNNING); a route that is gone or a 500 is not.
                broken = re.search(r'\{"detail":|"code":\s*"INTERNAL', output)
                assert not broken, f"{block.where()}:\n{output}"
                ran += 1
    assert ran >= 1
