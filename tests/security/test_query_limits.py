"""A read-only query must neither take the api-server's memory nor outlive its timeout.

Replays the finding over real HTTP on a real api-server, with a read-only API key:
``SELECT list_sum(range(300000000))`` took the api-server from 0.6 to 15 GB and ran 61 s against the
30 s limit. A constant expression is evaluated by DuckDB in one go: its vectors are outside DuckDB's
buffer pool (so ``memory_limit`` does not bound them) and ``interrupt()`` is not checked inside it
(so the timeout did not stop it). ``levenshtein`` over two 200,000-character strings is such an
expression that needs almost no memory but minutes of CPU.

A second memory query fills DuckDB's buffer pool for seconds, up to the limit. While each query runs,
the resident memory of the api-server and all its children is sampled and ``/health`` is asked every
half second. Should the memory grow far past the bound (a regression), the test ends the api-server
itself so that the shared machine keeps its memory; later tests of the same session then fail to
connect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import psutil
import pytest
import requests

pytestmark = pytest.mark.e2e

MEMORY_LIMIT = 10**9  # [headrace] query_memory_limit, default "1GB" (the cluster keeps the defaults)
TIMEOUT_SECONDS = 30.0  # the Query API's timeout (QUERY_TIMEOUT_SECONDS)
ANSWER_WITHIN = TIMEOUT_SECONDS + 5  # the answer comes at most this long after the request
RSS_BOUND = MEMORY_LIMIT + 768 * 2**20  # growth allowed: the limit plus a worker process and margins
RSS_EMERGENCY = RSS_BOUND + 2**30  # growth at which the test stops the api-server to protect the machine
HEALTH_WITHIN = 5.0  # seconds /health may take while a query runs

MEMORY_HOG = "SELECT list_sum(range(300000000))"  # the finding
MEMORY_FILLER = "SELECT list(range) FROM range(200000000)"  # grows for seconds, up to the limit
CPU_HOG = "SELECT levenshtein(repeat('ab', 100000), repeat('ba', 100000))"


def _rss(pid: int) -> int:
    """Resident bytes of the process and all its children (a query worker counts as the api-server)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


@dataclass
class _Watch:
    """Samples the api-server's memory and asks /health while a query runs (a context manager)."""

    api: str
    pid: int
    baseline: int = 0
    peak: int = 0
    health_seconds: list[float] = field(default_factory=list)
    health_failures: list[str] = field(default_factory=list)
    stopped_server: bool = False
    _done: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> _Watch:
        self.baseline = self.peak = _rss(self.pid)
        self._threads = [threading.Thread(target=t, daemon=True) for t in (self._sample, self._health)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=HEALTH_WITHIN + 5)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss(self.pid))
            if self.growth > RSS_EMERGENCY and not self.stopped_server:
                self.stopped_server = True
                os.killpg(self.pid, signal.SIGKILL)  # the cluster started it as a process group leader
            self._done.wait(0.05)

    def _health(self) -> None:
        while not self._done.is_set():
            started = time.monotonic()
            try:
                response = requests.get(f"{self.api}/health", timeout=HEALTH_WITHIN)
                if response.status_code != 200:
                    self.health_failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
            except requests.RequestException as exc:
                self.health_failures.append(repr(exc))
            self.health_seconds.append(time.monotonic() - started)
            self._done.wait(0.5)


@pytest.fixture(scope="module")
def read_key(airflow_cluster) -> dict[str, str]:
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{airflow_cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": "query-limits", "scopes": ["read"]},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["data"]["key"]}


def _query(cluster, headers: dict[str, str], sql: str) -> tuple[requests.Response, float, _Watch]:
    with _Watch(cluster.api, cluster.pids["api-server"]) as watch:
        started = time.monotonic()
        try:
            response = requests.post(f"{cluster.api}/query", headers=headers, json={"sql": sql}, timeout=300)
        except requests.ConnectionError:
            if not watch.stopped_server:
                raise
        elapsed = time.monotonic() - started
    if watch.stopped_server:
        pytest.fail(
            f"the api-server grew by more than {watch.growth / 2**30:.1f} GiB within {elapsed:.0f} s; "
            "the test stopped it to protect the machine"
        )
    print(  # the figures of the run, for the record (pytest -s or -rA shows them)
        f"{sql}: HTTP {response.status_code} after {elapsed:.1f} s; api-server RSS "
        f"{watch.baseline / 2**20:.0f} MiB, peak growth {watch.growth / 2**20:.0f} MiB; "
        f"/health slowest {max(watch.health_seconds, default=0):.2f} s of {len(watch.health_seconds)}"
    )
    return response, elapsed, watch


def _assert_bounded(watch: _Watch) -> None:
    assert watch.growth < RSS_BOUND, (
        f"api-server RSS grew by {watch.growth / 2**20:.0f} MiB "
        f"(from {watch.baseline / 2**20:.0f} MiB), bound {RSS_BOUND / 2**20:.0f} MiB"
    )
    assert watch.health_seconds, "/health was not asked while the query ran"
    assert not watch.health_failures, watch.health_failures
    assert max(watch.health_seconds) < HEALTH_WITHIN


def test_a_query_cannot_outlive_its_timeout(airflow_cluster, read_key):
    response, elapsed, watch = _query(airflow_cluster, read_key, CPU_HOG)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "QUERY_TIMEOUT"
    assert f"{TIMEOUT_SECONDS:g} seconds" in body["error"]
    assert body["details"] == [{"field": "sql", "message": body["error"]}]
    assert TIMEOUT_SECONDS - 1 < elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"
    _assert_bounded(watch)


@pytest.mark.parametrize("sql", [MEMORY_HOG, MEMORY_FILLER])
def test_a_query_cannot_take_the_api_servers_memory(airflow_cluster, read_key, sql):
    response, elapsed, watch = _query(airflow_cluster, read_key, sql)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "QUERY_MEMORY_LIMIT"
    assert "1GB" in body["error"] and "[headrace] query_memory_limit" in body["error"]
    assert body["details"] == [{"field": "sql", "message": body["error"]}]
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"
    _assert_bounded(watch)


def test_the_api_server_still_answers_queries_afterwards(airflow_cluster, read_key):
    response = requests.post(
        f"{airflow_cluster.api}/query", headers=read_key, json={"sql": "SELECT 41 + 1 AS answer"}, timeout=60
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["rows"] == [[42]]
