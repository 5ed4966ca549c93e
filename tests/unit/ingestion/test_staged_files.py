"""What the Arrow engine stages (and an unpartitioned Iceberg table adopts as its data files), and how
far ahead of its parser a CSV file is read."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from headrace.ingestion import readers
from headrace.ingestion.engine import ArrowEngine
from headrace.ingestion.readers import open_batches
from headrace.storage.filetypes import FileType
from tests.unit.ingestion.helpers import csv_bytes, json_lines, make_spec, put, read_back, rows_of

BATCH_ROWS = 20_000


def many_rows(count: int = 20_000) -> list[dict]:
    return [{"id": i, "amount": i * 0.25, "city": f"city-{i % 7}"} for i in range(count)]


@pytest.mark.parametrize("file_type", ["json", "csv"])
def test_staged_row_groups_are_batches_and_dictionaries_hold_only_repeated_values(
    store, lakehouse, tmp_path, file_type
):
    rows = many_rows(200_000)  # 4 MiB blocks: a few blocks of either type
    uri = put(store, f"many.{file_type}", json_lines(rows) if file_type == "json" else csv_bytes(rows))

    ArrowEngine(batch_rows=BATCH_ROWS).run(
        make_spec("iceberg", f"many_{file_type}", uri, file_type),
        job_id="many",
        lakehouse=lakehouse,
        store=store,
    )

    assert rows_of(read_back(tmp_path, "iceberg", "iceberg", f"many_{file_type}")) == rows
    (data_file,) = (tmp_path / "wh" / "iceberg" / "sales" / f"many_{file_type}" / "data").rglob("*.parquet")
    metadata = pq.read_metadata(data_file)
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == len(rows)
    # A row group per batch: batch_rows rows but where a block ends (JSON: not per 1 MiB sub-block)
    assert sum(size == BATCH_ROWS for size in sizes) >= len(sizes) // 2, sizes
    encodings = {
        metadata.row_group(0).column(i).path_in_schema: metadata.row_group(0).column(i).encodings
        for i in range(metadata.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["city"]  # 7 values: a dictionary pays
    assert "RLE_DICTIONARY" not in encodings["id"]  # every value distinct: plain, as one big row group
    assert "RLE_DICTIONARY" not in encodings["amount"]


class CountingReads(pafs.FSSpecHandler):
    """The local file system, counting the bytes read from input streams."""

    def __init__(self) -> None:
        super().__init__(LocalFileSystem())
        self.read = 0  # the content check opens the file otherwise (open_input_file)

    def open_input_stream(self, path):
        handler = self
        raw = self.fs.open(path, mode="rb")

        class Counted:
            def __getattr__(self, name):
                return getattr(raw, name)

            def read(self, nbytes=-1):
                data = raw.read(nbytes)
                handler.read += len(data)
                return data

        return pa.PythonFile(Counted(), mode="r")


def test_a_csv_file_is_read_a_few_blocks_ahead_of_the_batches_taken(tmp_path, monkeypatch):
    block = 16 * 1024
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", block)
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes(many_rows(100_000)))  # ~180 blocks
    handler = CountingReads()

    stream = open_batches(
        pafs.PyFileSystem(handler), str(path), FileType.CSV, uri="s3://raw/long.csv", one_pass=True
    )
    batches = iter(stream)
    taken = [next(batches) for _ in range(3)]
    time.sleep(0.3)  # time for pyarrow's background reader to run ahead, if it may

    assert taken and all(batch.num_rows for batch in taken)
    assert handler.read <= 8 * block, handler.read  # pyarrow alone reads up to 32 blocks ahead
    rest = sum(batch.num_rows for batch in batches)  # and the rest still arrives
    assert rest + sum(batch.num_rows for batch in taken) == 100_000
    assert handler.read == path.stat().st_size


def test_a_csv_reader_dropped_early_does_not_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 16 * 1024)
    path = tmp_path / "long.csv"
    path.write_bytes(csv_bytes(many_rows(50_000)))
    for _ in range(3):
        stream = open_batches(
            pafs.LocalFileSystem(), str(path), FileType.CSV, uri="s3://raw/long.csv", one_pass=True
        )
        batches = iter(stream)
        assert next(batches).num_rows
        batches.close()  # returns (the paced background read is released), and so does dropping it
        del stream, batches
    table = pa.Table.from_batches(
        list(open_batches(pafs.LocalFileSystem(), str(path), FileType.CSV, uri="s3://raw/long.csv"))
    )
    assert table.num_rows == 50_000
