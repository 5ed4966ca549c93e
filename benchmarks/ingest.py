"""Ingestion benchmark: the Arrow engine against the raw bound measured in the same run.

For files of ``--rows`` rows (1,000,000 by default) it times, as medians of ``--repeat`` runs (5):

- the raw bound: pyarrow reads the whole file and ``pyarrow.parquet.write_table`` writes it, nothing
  else (Avro: fastavro decodes it into one Arrow table);
- the Arrow engine: ``run_ingestion`` into a new Iceberg table (read, stage, one commit): JSON lines
  and CSV read once (the engine's default), and read twice (whole-file inference first, what the
  engine falls back to) for comparison; Parquet, ORC and Avro;
- JSON lines and CSV whose 900,000th row (``--rows * 0.9``) widens ``id`` from integer to double:
  the one-pass read meets it late and reads the file again, against the two-pass read;
- the Spark engine (``--spark``): the same job through spark-submit in local mode;

and prints the engine/raw ratios, the load average before and after, the peak RSS growth while the
engine loads a JSON lines and a CSV file four times the rows of one batch, and one ``GOAL`` line per
goal (>= 0.85x for JSON lines and CSV). The machine should be quiet: the load average shows whether
it was.

    .venv/bin/python -m benchmarks.ingest [--rows 1000000] [--repeat 5] [--spark]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.orc as paorc
import pyarrow.parquet as pq

from headrace.ingestion.engine import ArrowEngine, run_ingestion
from headrace.ingestion.readers import DEFAULT_BATCH_ROWS
from headrace.ingestion.spec import IngestionSpec
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore

BUCKET = "bench"
GOAL = 0.85
AVRO_SCHEMA = {
    "type": "record",
    "name": "Row",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "city", "type": "string"},
    ],
}


class TwoPassEngine(ArrowEngine):
    """The Arrow engine with CSV and JSON always read twice (its fallback), for comparison."""

    def _stream(self, spec: Any, file: Any, store: Any, s3: Any, way: Any = None) -> Any:
        return super()._stream(spec, file, store, s3, (False, None))


def row_id(i: int, widen_at: int | None) -> str:
    return f"{i}.5" if i == widen_at else str(i)


def write_rows(path: Path, rows: int, file_type: str, widen_at: int | None = None) -> None:
    """Text files of ``rows`` rows; ``widen_at``: the row whose id is a double, not an integer."""
    if file_type in ("parquet", "orc", "avro"):
        table = columns_table(rows)
        if file_type == "parquet":
            pq.write_table(table, path)
        elif file_type == "orc":
            paorc.write_table(table, path)
        else:
            with path.open("wb") as out:
                fastavro.writer(out, fastavro.parse_schema(AVRO_SCHEMA), table.to_pylist())
        return
    with path.open("w") as out:
        if file_type == "csv":
            out.write("id,customer,amount,city\n")
        for start in range(0, rows, 100_000):
            stop = min(start + 100_000, rows)
            if file_type == "csv":
                out.write(
                    "".join(
                        f"{row_id(i, widen_at)},customer-{i % 9973},{i * 0.25},city-{i % 97}\n"
                        for i in range(start, stop)
                    )
                )
            else:
                out.write(
                    "".join(
                        f'{{"id": {row_id(i, widen_at)}, "customer": "customer-{i % 9973}", '
                        f'"amount": {i * 0.25}, "city": "city-{i % 97}"}}\n'
                        for i in range(start, stop)
                    )
                )


def columns_table(rows: int) -> pa.Table:
    ids = pa.array(range(rows), pa.int64())
    return pa.table(
        {
            "id": ids,
            "customer": pa.array([f"customer-{i % 9973}" for i in range(rows)]),
            "amount": pa.compute.multiply(ids.cast(pa.float64()), 0.25),
            "city": pa.array([f"city-{i % 97}" for i in range(rows)]),
        }
    )


def raw_bound(path: Path, file_type: str, out: Path) -> None:
    readers: dict[str, Callable[[Path], pa.Table]] = {
        "json": pajson.read_json,
        "csv": pacsv.read_csv,
        "parquet": pq.read_table,
        "orc": paorc.read_table,
        "avro": lambda p: pa.Table.from_pylist(list(fastavro.reader(p.open("rb")))),
    }
    pq.write_table(readers[file_type](path), out)


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


class Bench:
    """A local store and an Iceberg catalog in a temporary folder; each load goes to a new table."""

    def __init__(self, root: Path, repeat: int) -> None:
        self.root = root
        self.repeat = repeat
        self.store = LocalObjectStore(root / "storage")
        self.store.create_bucket(BUCKET)
        self.lakehouse = Lakehouse(
            LakehouseSettings(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh"))
        )
        self.lakehouse.create_catalog("bench", CatalogType.ICEBERG)
        for file_type in ("json", "csv"):  # warm up: the first load pays for lazy imports
            write_rows(self.path(f"warm.{file_type}"), 1000, file_type)
            self.load(f"warm.{file_type}", file_type)

    def path(self, name: str) -> Path:
        return self.root / "storage" / BUCKET / name

    def spec(self, name: str, file_type: str, table: str | None = None) -> IngestionSpec:
        return IngestionSpec.model_validate(
            {
                "target": {"catalog": "bench", "schema": "s", "table": table or f"t_{uuid.uuid4().hex[:8]}"},
                "source": {"file_paths": f"s3://{BUCKET}/{name}", "file_type": file_type},
            }
        )

    def load(self, name: str, file_type: str, engine: ArrowEngine | None = None) -> float:
        spec = self.spec(name, file_type)
        return timed(
            lambda: run_ingestion(
                spec, job_id=uuid.uuid4().hex, lakehouse=self.lakehouse, store=self.store, engine=engine
            )
        )

    def medians(self, *actions: Callable[[], float]) -> list[float]:
        """The median time of each action; the actions take turns, so that a change in the
        machine's load between runs weighs on all of them alike."""
        times: list[list[float]] = [[] for _ in actions]
        for _ in range(self.repeat):
            for action, runs in zip(actions, times, strict=True):
                runs.append(action())
        return [statistics.median(runs) for runs in times]

    def raw(self, name: str, file_type: str) -> float:
        return timed(lambda: raw_bound(self.path(name), file_type, self.root / "raw.pq"))


def line(label: str, seconds: float, rows: int, raw: float | None = None) -> str:
    ratio = f"{raw / seconds:>7.2f}x" if raw is not None else ""
    return f"  {label:<28}{seconds:>9.2f}{rows / seconds:>13,.0f}{ratio}"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is printed)")
    parser.add_argument("--spark", action="store_true", help="also time the spark engine (local mode)")
    args = parser.parse_args()
    rows = args.rows
    goals: list[tuple[str, float]] = []

    print(f"Ingestion benchmark: {rows:,} rows, median of {args.repeat} run(s), {psutil.cpu_count()} CPU(s)")
    print(f"load average before: {load_average()}")
    print(f"  {'':<28}{'median s':>9}{'rows/s':>13}{'ratio':>8}")
    with tempfile.TemporaryDirectory(prefix="headrace-bench-") as tmp:
        bench = Bench(Path(tmp), args.repeat)
        for file_type in ("json", "csv"):
            name = f"rows.{file_type}"
            write_rows(bench.path(name), rows, file_type)
            raw, once, twice = bench.medians(
                lambda n=name, t=file_type: bench.raw(n, t),
                lambda n=name, t=file_type: bench.load(n, t),
                lambda n=name, t=file_type: bench.load(n, t, TwoPassEngine()),
            )
            print(f"{file_type} ({bench.path(name).stat().st_size / 2**20:.0f} MiB)")
            print(line("raw bound", raw, rows))
            print(line("arrow engine, one pass", once, rows, raw))
            print(line("arrow engine, two passes", twice, rows, raw))
            goals.append((f"ingest_{file_type}_vs_raw", raw / once))

            late = f"late.{file_type}"
            widen_at = int(rows * 0.9)
            write_rows(bench.path(late), rows, file_type, widen_at=widen_at)
            once, twice = bench.medians(
                lambda n=late, t=file_type: bench.load(n, t),
                lambda n=late, t=file_type: bench.load(n, t, TwoPassEngine()),
            )
            print(f"  row {widen_at + 1:,} widens id to double (ratio against the raw bound above):")
            print(line("  one pass, then re-read", once, rows, raw))
            print(line("  two passes", twice, rows, raw))
            if args.spark:
                from headrace.ingestion.spark.engine import SparkEngine

                seconds = bench.load(name, file_type, SparkEngine())
                print(line("spark engine (local), 1 run", seconds, rows, raw))

        for file_type in ("parquet", "orc", "avro"):
            name = f"rows.{file_type}"
            write_rows(bench.path(name), rows, file_type)
            raw, engine = bench.medians(
                lambda n=name, t=file_type: bench.raw(n, t), lambda n=name, t=file_type: bench.load(n, t)
            )
            print(f"{file_type} ({bench.path(name).stat().st_size / 2**20:.0f} MiB)")
            print(line("raw bound", raw, rows))
            print(line("arrow engine", engine, rows, raw))

        # Memory: a file 4x the rows of one batch, with the default batch size, against the raw bound.
        memory_rows = 4 * DEFAULT_BATCH_ROWS
        for file_type in ("json", "csv"):
            name = f"four_batches.{file_type}"
            write_rows(bench.path(name), memory_rows, file_type)
            with PeakRss() as engine_rss:
                run_ingestion(
                    bench.spec(name, file_type, f"memory_{file_type}"),
                    job_id=f"memory-{file_type}",
                    lakehouse=bench.lakehouse,
                    store=bench.store,
                    engine=ArrowEngine(),
                )
            with PeakRss() as raw_rss:
                raw_bound(bench.path(name), file_type, bench.root / "raw.pq")
            size_mib = bench.path(name).stat().st_size / 2**20
            print(
                f"peak RSS growth, a {size_mib:.0f} MiB {file_type} file of {memory_rows:,} rows "
                f"(4 batches of {DEFAULT_BATCH_ROWS:,}): arrow engine {engine_rss.growth_mib:.0f} MiB, "
                f"raw whole-file read {raw_rss.growth_mib:.0f} MiB"
            )
    print(f"load average after: {load_average()}")
    for goal, ratio in goals:
        print(f"GOAL {goal}: {ratio:.2f}x (goal >= {GOAL}x) {'MET' if ratio >= GOAL else 'NOT MET'}")


if __name__ == "__main__":
    main()
