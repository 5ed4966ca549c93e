"""CSV and JSON read once by the Arrow engine: a late row that widens a column still lands right.

Blocks are made small (4 KiB) so that a few thousand rows span many blocks and the widening row is
far past the prefix the types are inferred from, as the 900,000th row of a large file would be.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from fsspec.implementations.local import LocalFileSystem

from headrace.ingestion import readers
from headrace.ingestion.engine import ArrowEngine
from headrace.ingestion.readers import TypesContradicted, open_batches
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import CsvProperties
from headrace.storage.filetypes import FileType
from tests.unit.ingestion.helpers import csv_bytes, json_lines, make_spec, put, read_back, rows_of

ROWS = 5000
LATE = 4500  # far past the first block


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 4096)  # read at call time by the text readers


def plain_rows() -> list[dict]:
    return [{"id": i, "amount": i, "city": f"c{i % 7}"} for i in range(ROWS)]


def one_pass(path, file_type: str, types: pa.Schema | None = None) -> readers.BatchStream:
    return open_batches(
        pafs.LocalFileSystem(),
        str(path),
        FileType(file_type),
        uri="s3://raw/late",
        one_pass=True,
        types=types,
    )


def two_passes(path, file_type: str) -> pa.Table:
    stream = open_batches(pafs.LocalFileSystem(), str(path), FileType(file_type), uri="s3://raw/late")
    return pa.Table.from_batches(list(stream), schema=stream.schema)


class CountingOpens(pafs.FSSpecHandler):
    """The local file system, counting how often a file is opened for reading."""

    def __init__(self) -> None:
        super().__init__(LocalFileSystem())
        self.opens = 0

    def open_input_stream(self, path):
        self.opens += 1
        return super().open_input_stream(path)

    def open_input_file(self, path):
        self.opens += 1
        return super().open_input_file(path)


@pytest.mark.parametrize("file_type", ["json", "csv"])
def test_late_row_widening_a_column_lands_with_the_wider_type(store, lakehouse, tmp_path, file_type):
    rows = plain_rows()
    rows[LATE] = {"id": LATE, "amount": 2.5, "city": "c0"}
    content = json_lines(rows) if file_type == "json" else csv_bytes(rows)
    uri = put(store, f"late/rows.{file_type}", content)
    with pytest.raises(TypesContradicted) as contradicted:  # read once, the prefix's types fail...
        list(one_pass(tmp_path / "storage" / "raw" / "late" / f"rows.{file_type}", file_type))
    assert contradicted.value.types.field("amount").type == pa.float64()  # ...and say how to widen

    result = ArrowEngine(batch_rows=256).run(  # ...so the engine reads that file again, carefully
        make_spec("iceberg", f"late_{file_type}", uri, file_type),
        job_id="late",
        lakehouse=lakehouse,
        store=store,
    )

    back = read_back(tmp_path, "iceberg", "iceberg", f"late_{file_type}")
    assert result.rows_written == ROWS
    assert back.schema.field("amount").type == pa.float64()
    assert rows_of(back) == [{**row, "amount": float(row["amount"])} for row in rows]
    assert back.filter(pa.compute.equal(back["id"], LATE)).column("amount").to_pylist() == [2.5]


def test_late_json_field_and_text_in_a_number_column(store, lakehouse, tmp_path):
    rows = plain_rows()
    rows[LATE] = {"id": LATE, "amount": 1, "city": "c0", "note": {"k": True}}
    rows[LATE + 1] = {"id": LATE + 1, "amount": 1, "city": 7}  # a number among texts: refused
    uri = put(store, "late/bad.jsonl", json_lines(rows))
    good = put(store, "late/good.jsonl", json_lines(plain_rows()[:10]))
    engine = ArrowEngine(batch_rows=256)
    engine.run(make_spec("iceberg", "mixed", good, "json"), job_id="first", lakehouse=lakehouse, store=store)

    with pytest.raises(IngestionFailed) as failure:
        engine.run(
            make_spec("iceberg", "mixed", uri, "json"), job_id="second", lakehouse=lakehouse, store=store
        )

    assert not isinstance(failure.value, TypesContradicted)  # the careful read's own reason
    assert failure.value.file == uri
    assert "Column(/city) changed from string to number" in str(failure.value)
    assert f"in row {LATE + 2:,} of the file" in str(failure.value)  # 1-based: the line
    back = read_back(tmp_path, "iceberg", "iceberg", "mixed")
    assert rows_of(back) == plain_rows()[:10]  # unchanged by the failed job


def test_late_text_in_csv_date_column_becomes_text(store, lakehouse, tmp_path):
    rows = [{"id": i, "day": f"2024-01-{i % 28 + 1:02d}"} for i in range(ROWS)]
    rows[LATE]["day"] = "soon"
    uri = put(store, "late/days.csv", csv_bytes(rows))

    ArrowEngine(batch_rows=256).run(
        make_spec("iceberg", "days", uri, "csv"), job_id="days", lakehouse=lakehouse, store=store
    )

    back = read_back(tmp_path, "iceberg", "iceberg", "days")
    assert back.schema.field("day").type == pa.string()
    assert rows_of(back) == rows


@pytest.mark.parametrize("file_type", ["json", "csv"])
def test_a_file_whose_types_hold_is_read_once(tmp_path, file_type):
    path = tmp_path / f"rows.{file_type}"
    rows = plain_rows()
    path.write_bytes(json_lines(rows) if file_type == "json" else csv_bytes(rows))
    handler = CountingOpens()

    stream = open_batches(
        pafs.PyFileSystem(handler), str(path), FileType(file_type), uri="s3://raw/rows", csv=CsvProperties()
    )
    two_pass = pa.Table.from_batches(list(stream), schema=stream.schema)
    opens_two_pass, handler.opens = handler.opens, 0
    stream = open_batches(
        pafs.PyFileSystem(handler), str(path), FileType(file_type), uri="s3://raw/rows", one_pass=True
    )
    once = pa.Table.from_batches(list(stream), schema=stream.schema)

    assert once.equals(two_pass) and once.num_rows == ROWS
    assert handler.opens == 2  # the content check, then one read
    assert opens_two_pass > handler.opens


@pytest.mark.parametrize("file_type", ["json", "csv"])
def test_two_widenings_end_as_the_two_pass_read_does(store, lakehouse, tmp_path, file_type):
    rows = plain_rows()
    rows[LATE]["amount"] = 1.5  # integer -> double...
    if file_type == "csv":
        rows[LATE + 300]["amount"] = "many"  # ...-> text
    else:
        rows[LATE + 300]["note"] = "new"  # ...and a field the first rows did not have
    content = json_lines(rows) if file_type == "json" else csv_bytes(rows)
    uri = put(store, f"late/twice.{file_type}", content)
    path = tmp_path / "storage" / "raw" / "late" / f"twice.{file_type}"
    with pytest.raises(TypesContradicted) as first:
        list(one_pass(path, file_type))
    with pytest.raises(TypesContradicted) as second:  # the widened types meet the next value
        list(one_pass(path, file_type, first.value.types))

    ArrowEngine(batch_rows=256).run(
        make_spec("iceberg", f"twice_{file_type}", uri, file_type),
        job_id="t",
        lakehouse=lakehouse,
        store=store,
    )

    back = read_back(tmp_path, "iceberg", "iceberg", f"twice_{file_type}")
    careful = two_passes(path, file_type)
    assert first.value.types.field("amount").type == pa.float64()
    assert second.value.types is None or second.value.types != first.value.types
    assert back.schema.field("amount").type == careful.schema.field("amount").type
    assert rows_of(back) == rows_of(careful)
    assert back.num_rows == ROWS


def test_prefetching_hands_over_items_and_errors_in_order_and_stops_early():
    def items():
        yield from range(5)
        raise ValueError("after five")

    got = []
    with pytest.raises(ValueError, match="after five"):
        for item in readers.stream.prefetched(items()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]

    endless = readers.stream.prefetched(iter(range(10**9)))
    assert [next(endless) for _ in range(3)] == [0, 1, 2]
    endless.close()  # returns: the worker stops instead of producing the rest
