"""Parquet and ORC: the footer's schema, then one row group (Parquet) or stripe (ORC) at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.orc as paorc
import pyarrow.parquet as pq

from headrace.ingestion.readers.stream import rechunk
from headrace.ingestion.spec import CsvProperties


def parquet_batches(
    fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int
) -> tuple[pa.Schema, Any]:
    parquet = pq.ParquetFile(fs.open_input_file(path))
    return parquet.schema_arrow, parquet.iter_batches(batch_size=batch_rows)


def orc_batches(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    orc = paorc.ORCFile(fs.open_input_file(path))

    def stripes() -> Iterator[pa.RecordBatch]:
        for index in range(orc.nstripes):
            yield orc.read_stripe(index)

    return orc.schema, rechunk(stripes(), batch_rows)
