"""One-pass reads stay bounded: a file many batches long never sits in memory whole.

Run in a child process so that pyarrow's peak allocation (``max_memory`` of its default pool) is
this load's alone. Blocks of 512 KiB make the 30 MB (CSV) and 64 MB (JSON) files many blocks long:
memory is a few blocks and one batch, whatever the file's size (with the default 4 MiB blocks: CSV
66 MB for a 30 MB and for a 124 MB file, JSON 31 MB for a 64 MB one).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = r"""
import io, json, sys
from pathlib import Path
import pyarrow as pa
from headrace.ingestion.engine import ArrowEngine
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore
from tests.unit.ingestion.helpers import make_spec

from headrace.ingestion.readers import stream

root, file_type = Path(sys.argv[1]), sys.argv[2]
stream.BLOCK_BYTES = 512 * 1024  # read at call time: the file is 60 to 120 blocks, memory a few of them
store = LocalObjectStore(root / "storage")
store.create_bucket("raw")
path = root / "storage" / "raw" / f"big.{file_type}"
with path.open("w") as out:
    if file_type == "csv":
        out.write("id,customer,amount\n")
    for start in range(0, 1_000_000, 100_000):
        if file_type == "csv":
            out.write("".join(f"{i},customer-{i % 9973},{i * 0.25}\n" for i in range(start, start + 100_000)))
        else:
            out.write("".join(
                f'{{"id": {i}, "customer": "customer-{i % 9973}", "amount": {i * 0.25}}}\n'
                for i in range(start, start + 100_000)
            ))
lakehouse = Lakehouse(LakehouseSettings(catalog_uri=f"sqlite:///{root / 'c.db'}", warehouse=str(root / "wh")))
lakehouse.create_catalog("iceberg", CatalogType.ICEBERG)
batch_rows = 250_000  # the file is 4 batches
result = ArrowEngine(batch_rows=batch_rows).run(
    make_spec("iceberg", "big", f"s3://raw/big.{file_type}", file_type), job_id="big", lakehouse=lakehouse,
    store=store,
)
print(json.dumps({"rows": result.rows_written, "peak": pa.default_memory_pool().max_memory(),
                  "size": path.stat().st_size}))
"""


@pytest.mark.parametrize("file_type", ["csv", "json"])
def test_a_file_of_four_batches_is_never_held_whole(tmp_path, file_type):
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), file_type], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])

    assert figures["rows"] == 1_000_000
    # The whole file parsed would take about as many bytes as the file; a one-pass read holds a few
    # blocks and one batch of the staging writer.
    assert figures["peak"] < figures["size"] * 0.6, figures
