"""The sandbox: real memory limits, thread counts, result sizes and a real deadline in the child process."""

from __future__ import annotations

import contextlib
import threading
import time

import psutil
import pyarrow as pa
import pytest

from headrace.lakehouse.sql import (
    QueryError,
    QueryLimits,
    run_query,
    sandbox,
)

# ------------------------------------------------------------ limits: memory, threads and the deadline
SMALL = QueryLimits("256MB", 1)
MEMORY_HOG = "SELECT list_sum(range(300000000))"  # the finding: 0.6 -> 15 GB and 61 s in the api-server
CPU_HOG = "SELECT levenshtein(repeat('ab', 100000), repeat('ba', 100000))"  # minutes, next to no memory


class _PeakRss:
    """Peak resident memory of this process and its children while the block runs (sampled)."""

    def __enter__(self):
        self.me = psutil.Process()
        self.baseline = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def _rss(self) -> int:
        total = 0
        for process in [self.me, *self.me.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def _sample(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self._rss())


@pytest.mark.parametrize(
    "sql",
    [
        MEMORY_HOG,  # one vector outside DuckDB's buffer pool: stopped by the process's own limit
        "SELECT list(range) FROM range(100000000)",  # an aggregate: stopped by DuckDB's memory_limit
    ],
)
def test_a_query_needing_more_memory_is_query_memory_limit(resolver, sql):
    started = time.monotonic()
    with _PeakRss() as rss, pytest.raises(QueryError) as info:
        run_query(sql, resolver, limits=SMALL)

    assert info.value.code == "QUERY_MEMORY_LIMIT" and info.value.field == "sql"
    assert "256MB" in info.value.message and "[headrace] query_memory_limit" in info.value.message
    assert rss.growth < SMALL.memory_bytes + 512 * 2**20, f"grew by {rss.growth / 2**20:.0f} MiB"
    assert time.monotonic() - started < 20


def test_an_expression_duckdb_does_not_interrupt_still_ends_at_the_timeout(resolver):
    started = time.monotonic()
    with pytest.raises(QueryError) as info:
        run_query(CPU_HOG, resolver, timeout_seconds=2, limits=SMALL)

    assert info.value.code == "QUERY_TIMEOUT" and "2 seconds" in info.value.message
    assert time.monotonic() - started < 4


def test_duckdb_runs_with_the_limits_and_without_temporary_files():
    columns, table = sandbox.run(
        "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, "
        "current_setting('temp_directory') AS d, current_setting('lock_configuration') AS locked",
        {},
        uses={},
        limit=1,
        timeout_seconds=30,
        limits=QueryLimits("256MiB", 1),
    )

    assert [name for name, _ in columns] == ["m", "t", "d", "locked"]
    assert table.to_pylist() == [{"m": "256.0 MiB", "t": 1, "d": "", "locked": True}]


def test_a_result_too_large_for_the_api_is_refused(resolver):
    with pytest.raises(QueryError) as info:
        run_query("SELECT repeat('x', 40000000) AS big", resolver)

    assert info.value.code == "QUERY_RESULT_TOO_LARGE" and info.value.field == "limit"
    assert f"{sandbox.MAX_RESULT_BYTES // 2**20} MiB" in info.value.message


def test_a_table_that_cannot_be_read_is_query_failed_naming_it():
    def batches():
        yield pa.record_batch([pa.array([1, 2], pa.int64())], ["x"])
        raise OSError("disk on fire")

    def resolve(ref):
        return pa.RecordBatchReader.from_batches(pa.schema([("x", pa.int64())]), batches())

    with pytest.raises(QueryError) as info:
        run_query("SELECT count(*) FROM sales.public.broken", resolve)

    assert info.value.code == "QUERY_FAILED"
    assert "sales.public.broken" in info.value.message and "disk on fire" in info.value.message
    assert "t_0" not in info.value.message


def test_the_query_process_inherits_no_airflow_settings(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://airflow:secret@db/airflow")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")  # pyarrow's S3 filesystem may need these

    env = sandbox._child_env()

    assert not [name for name in env if name.startswith("AIRFLOW")]
    assert env["AWS_REGION"] == "eu-north-1" and env["ARROW_DEFAULT_MEMORY_POOL"] == "system"


@pytest.mark.parametrize(
    ("text", "size"),
    [("1GB", 10**9), ("1GiB", 2**30), ("512 mb", 512 * 10**6), ("1.5GB", 1.5 * 10**9), ("64MiB", 2**26)],
)
def test_memory_limits_are_read_in_duckdb_notation(text, size):
    assert QueryLimits(text).memory_bytes == size


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_limit": "lots"},
        {"memory_limit": "80%"},
        {"memory_limit": "10KB"},
        {"threads": 0},
        {"threads": True},
    ],
)
def test_invalid_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match="query"):
        QueryLimits(**kwargs)
