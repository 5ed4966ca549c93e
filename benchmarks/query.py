"""Query benchmark: ``POST /query``'s path against DuckDB reading the same Parquet files, in the same run.

Builds an Iceberg table of ``--rows`` rows (10,000,000 by default; int, float, string and timestamp
columns, one data file per million rows) through the lakehouse core, then times two queries:

- selective: ``WHERE customer_id < 100``, about 0.1 % of the rows, four columns back;
- aggregate: ``GROUP BY city`` (20 values) with count, sum, avg and max;

each through Headrace's query path in this process (``Lakehouse.query``: guard, rewrite, pyiceberg's
plan, DuckDB in the sandbox's query process, JSON rows) and through DuckDB alone on the same files
(``read_parquet([...])``, a fresh in-memory connection per run with the same ``memory_limit`` and
``threads``, rows fetched as Python tuples). Runs take turns; medians of ``--repeat`` runs.

Peak RSS: a fresh worker process runs each query once through the Headrace path (and the heavy one)
and samples its own RSS (the api-server's side) and its query processes' with psutil every 5 ms.

``/health`` during a heavy query (unless ``--no-server``): a real Airflow api-server with Headrace
(``tests/e2e/cluster.py``) on the same lakehouse, a heavy ``POST /query`` (GROUP BY two million
groups) over real HTTP, and ``GET /health`` every 20 ms meanwhile; the figure is the slowest answer.

    .venv/bin/python -m benchmarks.query [--rows 10000000] [--repeat 5] [--no-server]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import psutil
import pyarrow as pa

from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.lakehouse.sql import QueryLimits
from headrace.lakehouse.sql.scans import planned_files

TABLE = "bench.sales.orders"
CHUNK_ROWS = 1_000_000
LIMITS = QueryLimits("1GB", 2)
RESULT_LIMIT = 100_000
QUERIES = {
    "selective": "SELECT id, amount, city, created_at FROM {t} WHERE customer_id < 100",
    "aggregate": "SELECT city, count(*) AS n, sum(amount) AS total, avg(amount) AS mean, "
    "max(created_at) AS last FROM {t} GROUP BY city ORDER BY city",
}
HEAVY = (
    "SELECT customer_id, city, count(*) AS n, sum(amount) AS total FROM {t} "
    "GROUP BY ALL ORDER BY n DESC, customer_id, city LIMIT 10"
)
GOAL_RATIO, GOAL_RSS_MIB, GOAL_HEALTH_MS = 0.7, 512, 100
SPARE_PAUSE = 1.0  # seconds between runs: the query process for the next query starts meanwhile


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def lakehouse(root: Path) -> Lakehouse:
    return Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh"))
    )


def build(house: Lakehouse, rows: int) -> None:
    house.create_catalog("bench", CatalogType.ICEBERG)
    for start in range(0, rows, CHUNK_ROWS):
        count = min(CHUNK_ROWS, rows - start)
        ids = np.arange(start, start + count, dtype=np.int64)
        random = np.random.default_rng(start)
        house.write(
            "bench",
            "sales",
            "orders",
            pa.table(
                {
                    "id": ids,
                    "customer_id": random.integers(0, 100_000, count),
                    "amount": random.random(count) * 1000,
                    "city": pa.array([f"city-{i}" for i in range(20)]).take(pa.array(ids % 20)),
                    "created_at": pa.array(1_700_000_000_000_000 + ids * 1_000_000, pa.timestamp("us")),
                }
            ),
        )


def files(house: Lakehouse) -> list[str]:
    paths, _ = planned_files(house.open("bench").load("sales", "orders"))
    return [path.removeprefix("file://") for path in paths]


def headrace(house: Lakehouse, sql: str) -> int:
    return house.query(sql.format(t=TABLE), limit=RESULT_LIMIT, limits=LIMITS).row_count


def duckdb_direct(paths: list[str], sql: str) -> int:
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"SET memory_limit = '{LIMITS.memory_bytes}B'")
        connection.execute(f"SET threads = {LIMITS.threads}")
        source = "read_parquet([" + ", ".join(f"'{p}'" for p in paths) + "])"
        return len(connection.sql(sql.format(t=source)).limit(RESULT_LIMIT + 1).fetchall())
    finally:
        connection.close()


def timed(action: Callable[[], object]) -> float:
    time.sleep(SPARE_PAUSE)
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class PeakRss:
    """Samples the RSS of this process and of each child (the query processes) every 5 ms (psutil).

    Not ``ru_maxrss``: Linux carries the high-water mark of the process that forked over ``exec``, so a
    query process would report the RSS of the process that started it.
    """

    def __enter__(self) -> PeakRss:
        self.me = psutil.Process()
        self.own = self.me.memory_info().rss
        self.children: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.own = max(self.own, self.me.memory_info().rss)
            for child in self.me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.children[child.pid] = max(self.children.get(child.pid, 0), child.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def worker(root: Path) -> None:
    """Each query once through the Headrace path; print the peak RSS of this process and its children."""
    house = lakehouse(root)
    headrace(house, "SELECT 1")  # imports and the first query process: what a serving process has anyway
    time.sleep(2)  # the spare query process is ready
    before = psutil.Process().memory_info().rss / 2**20
    figures: dict[str, dict[str, float]] = {}
    for name, sql in [*QUERIES.items(), ("heavy", HEAVY)]:
        with PeakRss() as peak:
            headrace(house, sql)
        query = max(peak.children.values(), default=0) / 2**20
        figures[name] = {"api_growth_mib": peak.own / 2**20 - before, "query_mib": query}
        time.sleep(SPARE_PAUSE)
    print(json.dumps({"api_before_mib": before, "queries": figures}))


def peak_rss(root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.query", "--worker", str(root)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def health_during_heavy_query(root: Path) -> tuple[float, float, float, int]:
    """Baseline median, median and slowest ``GET /health`` (ms) while a heavy query runs; its status."""
    import requests

    from tests.e2e.cluster import running_airflow

    env = {
        "AIRFLOW__HEADRACE__CATALOG_URI": f"sqlite:///{root / 'catalog.db'}",
        "AIRFLOW__HEADRACE__WAREHOUSE": str(root / "wh"),
        "AIRFLOW__HEADRACE__QUERY_MEMORY_LIMIT": LIMITS.memory_limit,
        "AIRFLOW__HEADRACE__QUERY_THREADS": str(LIMITS.threads),
    }
    home = root / "airflow"
    home.mkdir()
    print("starting Airflow with Headrace ...", flush=True)
    with running_airflow(home, env) as cluster:
        headers = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
        session = requests.Session()

        def health() -> float:
            started = time.perf_counter()
            session.get(f"{cluster.api}/health", timeout=30).raise_for_status()
            return (time.perf_counter() - started) * 1000

        baseline = [health() for _ in range(50)]
        answer: dict[str, object] = {}

        def query() -> None:
            response = requests.post(
                f"{cluster.api}/query", json={"sql": HEAVY.format(t=TABLE)}, headers=headers, timeout=120
            )
            answer.update(status=response.status_code, body=response.json())

        requests.post(f"{cluster.api}/query", json={"sql": "SELECT 1"}, headers=headers, timeout=60)
        time.sleep(2)  # the spare query process is ready, as on a server that has answered a query
        thread = threading.Thread(target=query)
        thread.start()
        during = []
        while thread.is_alive():
            during.append(health())
            time.sleep(0.02)
        thread.join()
        body = answer.get("body") or {}
        elapsed = (body.get("data") or {}).get("elapsed_ms") if isinstance(body, dict) else None
        print(
            f"heavy query: HTTP {answer.get('status')}, {elapsed} ms in the api-server, {len(during)} checks"
        )
        return statistics.median(baseline), statistics.median(during), max(during), int(answer["status"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-server", action="store_true", help="skip /health against a real api-server")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    load_before = _load()
    print(f"Query benchmark: {args.rows:,} rows, {args.repeat} run(s), {os.cpu_count()} CPU(s)")
    print(f"load average before: {load_before}")
    with tempfile.TemporaryDirectory(prefix="headrace-bench-") as tmp:
        root = Path(tmp)
        house = lakehouse(root)
        started = time.perf_counter()
        build(house, args.rows)
        paths = files(house)
        print(f"built {TABLE}: {len(paths)} files in {time.perf_counter() - started:.1f}s")
        ratios = {}
        print(f"{'median s':>32}{'headrace':>10}{'duckdb':>10}{'ratio':>8}")
        for name, sql in QUERIES.items():
            assert headrace(house, sql) == duckdb_direct(paths, sql)  # same answer (and a warm-up)
            runs: dict[str, list[float]] = {"headrace": [], "duckdb": []}
            for _ in range(args.repeat):
                runs["headrace"].append(timed(lambda s=sql: headrace(house, s)))
                runs["duckdb"].append(timed(lambda s=sql: duckdb_direct(paths, s)))
            ours, bound = (statistics.median(runs[k]) for k in ("headrace", "duckdb"))
            ratios[name] = bound / ours
            print(f"{name:>22}{'':10}{ours:>10.3f}{bound:>10.3f}{ratios[name]:>7.2f}x")
            print(f"{'':>22}runs: headrace {' '.join(f'{t:.3f}' for t in runs['headrace'])}")
            print(f"{'':>22}      duckdb   {' '.join(f'{t:.3f}' for t in runs['duckdb'])}")
        rss = peak_rss(root)
        print(f"peak RSS (Headrace process {rss['api_before_mib']:.0f} MiB after imports and a first query):")
        for name, figure in rss["queries"].items():
            print(
                f"{name:>22}: query process {figure['query_mib']:.0f} MiB, "
                f"Headrace process +{figure['api_growth_mib']:.0f} MiB"
            )
        health = None
        if not args.no_server:
            with contextlib.suppress(KeyboardInterrupt):
                health = health_during_heavy_query(root)
        print(
            f"load average before: {load_before}; after: {_load()} (1, 5, 15 min; other work skews figures)"
        )
        for name, ratio in ratios.items():
            print(
                f"GOAL {name} vs DuckDB: {ratio:.2f}x (goal >= {GOAL_RATIO}x) {_verdict(ratio >= GOAL_RATIO)}"
            )
        for name in QUERIES:
            figure = rss["queries"][name]
            total = figure["query_mib"] + max(figure["api_growth_mib"], 0)
            print(
                f"GOAL peak RSS {name}: {total:.0f} MiB, query process + the Headrace process's growth "
                f"(goal < {GOAL_RSS_MIB} MiB) {_verdict(total < GOAL_RSS_MIB)}"
            )
        if health is not None:
            base, median, worst, status = health
            print(
                f"GOAL /health during a heavy query: slowest {worst:.1f} ms, median {median:.1f} ms "
                f"(idle median {base:.1f} ms; query HTTP {status}) (goal <= {GOAL_HEALTH_MS} ms) "
                f"{_verdict(worst <= GOAL_HEALTH_MS)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
