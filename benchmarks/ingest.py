"""Ingestion benchmark: the Arrow engine against the raw bound measured in the same run.

For a JSON-lines file and a CSV file of ``--rows`` rows (1,000,000 by default) it times:

- the raw bound: pyarrow reads the file and ``pyarrow.parquet.write_table`` writes it, nothing else;
- the Arrow engine: ``run_ingestion`` into a new Iceberg table (read, stage, one commit);
- the Spark engine (``--spark``): the same job through spark-submit in local mode;

and prints rows/s and the engine/raw ratio (goal: at least 0.85), plus the peak RSS growth of this
process while the Arrow engine loads a file four times larger than the memory one batch takes.

    .venv/bin/python -m benchmarks.ingest [--rows 1000000] [--repeat 3] [--spark]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from headrace.ingestion.engine import ArrowEngine, run_ingestion
from headrace.ingestion.readers import DEFAULT_BATCH_ROWS
from headrace.ingestion.spec import IngestionSpec
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore

BUCKET = "bench"


def write_rows(path: Path, rows: int, file_type: str) -> None:
    with path.open("w") as out:
        if file_type == "csv":
            out.write("id,customer,amount,city\n")
        for start in range(0, rows, 100_000):
            stop = min(start + 100_000, rows)
            if file_type == "csv":
                out.write(
                    "".join(f"{i},customer-{i % 9973},{i * 0.25},city-{i % 97}\n" for i in range(start, stop))
                )
            else:
                out.write(
                    "".join(
                        f'{{"id": {i}, "customer": "customer-{i % 9973}", "amount": {i * 0.25}, '
                        f'"city": "city-{i % 97}"}}\n'
                        for i in range(start, stop)
                    )
                )


def raw_bound(path: Path, file_type: str, out: Path) -> None:
    table = pajson.read_json(path) if file_type == "json" else pacsv.read_csv(path)
    pq.write_table(table, out)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class PeakRss:
    """Samples this process's RSS every 10 ms while in use."""

    def __enter__(self) -> PeakRss:
        self.process = psutil.Process()
        self.before = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also time the spark engine (local mode)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="headrace-bench-") as tmp:
        root = Path(tmp)
        store = LocalObjectStore(root / "storage")
        store.create_bucket(BUCKET)
        lakehouse = Lakehouse(
            LakehouseSettings(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh"))
        )
        lakehouse.create_catalog("bench", CatalogType.ICEBERG)
        print(f"Ingestion benchmark: {args.rows:,} rows, {args.repeat} run(s), {psutil.cpu_count()} CPU(s)")
        print(f"{'':24}{'median s':>10}{'rows/s':>14}{'ratio':>8}")
        for file_type in ("json", "csv"):
            path = root / "storage" / BUCKET / f"rows.{file_type}"
            write_rows(path, args.rows, file_type)
            size_mib = path.stat().st_size / 2**20
            raw = statistics.median(
                timed(lambda p=path, t=file_type: raw_bound(p, t, root / "raw.parquet"))
                for _ in range(args.repeat)
            )
            engine_times = []
            for _ in range(args.repeat):
                spec = IngestionSpec.model_validate(
                    {
                        "target": {"catalog": "bench", "schema": "s", "table": f"t_{uuid.uuid4().hex[:8]}"},
                        "source": {"file_paths": f"s3://{BUCKET}/rows.{file_type}", "file_type": file_type},
                    }
                )
                engine_times.append(
                    timed(
                        lambda spec=spec: run_ingestion(
                            spec, job_id=uuid.uuid4().hex, lakehouse=lakehouse, store=store
                        )
                    )
                )
            engine = statistics.median(engine_times)
            print(f"{file_type} ({size_mib:.0f} MiB)")
            print(f"  raw bound             {raw:>10.2f}{args.rows / raw:>14,.0f}")
            ratio = raw / engine
            mark = "PASS" if ratio >= 0.85 else "FAIL"
            rate = args.rows / engine
            print(
                f"  arrow engine          {engine:>10.2f}{rate:>14,.0f}{ratio:>7.2f}x  [{mark}] goal >= 0.85x"
            )
            if args.spark:
                from headrace.ingestion.spark.engine import SparkEngine

                spec = IngestionSpec.model_validate(
                    {
                        "target": {"catalog": "bench", "schema": "s", "table": f"spark_{file_type}"},
                        "source": {"file_paths": f"s3://{BUCKET}/rows.{file_type}", "file_type": file_type},
                    }
                )
                seconds = timed(
                    lambda s=spec: run_ingestion(
                        s, job_id=uuid.uuid4().hex, lakehouse=lakehouse, store=store, engine=SparkEngine()
                    )
                )
                rate = args.rows / seconds
                print(f"  spark engine (local)  {seconds:>10.2f}{rate:>14,.0f}{raw / seconds:>7.2f}x")

        # Memory: a file 4x the rows of one batch, loaded with the default batch size, and the
        # whole-table raw bound for comparison.
        rows = 4 * DEFAULT_BATCH_ROWS
        path = root / "storage" / BUCKET / "four_batches.json"
        write_rows(path, rows, "json")
        spec = IngestionSpec.model_validate(
            {
                "target": {"catalog": "bench", "schema": "s", "table": "memory"},
                "source": {"file_paths": f"s3://{BUCKET}/four_batches.json", "file_type": "json"},
            }
        )
        with PeakRss() as engine_rss:
            run_ingestion(spec, job_id="memory", lakehouse=lakehouse, store=store, engine=ArrowEngine())
        with PeakRss() as raw_rss:
            raw_bound(path, "json", root / "raw.parquet")
        size_mib = path.stat().st_size / 2**20
        print(
            f"peak RSS growth for a {size_mib:.0f} MiB file of {rows:,} rows "
            f"(4 batches of {DEFAULT_BATCH_ROWS:,}): arrow engine {engine_rss.growth_mib:.0f} MiB, "
            f"raw whole-file read {raw_rss.growth_mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
