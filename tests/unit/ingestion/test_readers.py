"""Readers on their own: types over whole files, dialects, Avro mapping, bad content naming the file."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.orc as paorc
import pytest

from headrace.ingestion import readers
from headrace.ingestion.readers import open_batches
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import CsvProperties
from headrace.storage.filetypes import FileType
from tests.unit.ingestion.helpers import avro_bytes, csv_bytes, json_lines, parquet_bytes, table_of


def read(tmp_path, content: bytes, file_type: str, *, csv: dict | None = None, batch_rows: int = 65536):
    path = tmp_path / f"file.{file_type}"
    path.write_bytes(content)
    stream = open_batches(
        pafs.LocalFileSystem(),
        str(path),
        FileType(file_type),
        uri="s3://raw/file",
        csv=CsvProperties.model_validate(csv or {}),
        batch_rows=batch_rows,
    )
    batches = list(stream)
    assert all(b.num_rows <= batch_rows for b in batches)
    return stream.schema, pa.Table.from_batches(batches, schema=stream.schema)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 bytes, so that a few lines span many blocks (pyarrow infers per block)."""
    monkeypatch.setattr(readers.stream, "BLOCK_BYTES", 64)  # read at call time by the CSV and JSON readers


def test_csv_types_are_inferred_over_the_whole_file(tmp_path, small_blocks):
    lines = ["id,code,price,flag,day,at"] + [
        f"{i},{i},{i},true,2024-01-0{i % 9 + 1},2024-01-01 10:00:0{i % 10}" for i in range(40)
    ]
    lines += ["40,X-1,2.5,false,,2024-01-01T10:00:00"]
    schema, table = read(tmp_path, ("\n".join(lines) + "\n").encode(), "csv", batch_rows=7)

    assert schema == pa.schema(
        [
            ("id", pa.int64()),
            ("code", pa.string()),
            ("price", pa.float64()),
            ("flag", pa.bool_()),
            ("day", pa.date32()),
            ("at", pa.timestamp("us")),
        ]
    )
    assert table.num_rows == 41
    assert table.column("code")[-1].as_py() == "X-1" and table.column("day")[-1].as_py() is None


def test_csv_dialect_quotes_escapes_encoding_and_empty_columns(tmp_path):
    content = 'a|b|c\r\n1|"x|y\r\nz"|\r\n2|q\\|r|\r\n'.encode("latin-1") + "3|é||\r\n".encode("latin-1")
    content = content.replace(b"||\r\n", b"|\r\n")
    schema, table = read(
        tmp_path,
        content,
        "csv",
        csv={"field_delimiter": "|", "escape_character": "\\", "encoding": "latin-1"},
    )

    assert schema.field("c").type == pa.null()  # no value at all: no type (the commit drops it)
    assert table.column("b").to_pylist() == ["x|y\r\nz", "q|r", "é"]


def test_csv_without_header_and_custom_null(tmp_path):
    schema, table = read(
        tmp_path,
        csv_bytes([{"a": 1, "b": None}, {"a": 2, "b": "x"}], header=False, null="NULL"),
        "csv",
        csv={"header": False, "null_value": "NULL"},
    )
    assert schema.names == ["f0", "f1"]
    assert table.to_pylist() == [{"f0": 1, "f1": None}, {"f0": 2, "f1": "x"}]


def test_csv_row_with_wrong_field_count_names_the_file(tmp_path):
    with pytest.raises(IngestionFailed) as failure:
        read(tmp_path, b"a,b\n1,2\n3,4,5\n", "csv")
    assert failure.value.file == "s3://raw/file"
    assert "Cannot read s3://raw/file" in str(failure.value) and "columns" in str(failure.value)


def test_json_lines_types_change_across_blocks(tmp_path, small_blocks):
    rows = [{"id": i, "note": None, "score": 1} for i in range(20)]
    rows += [{"id": 20, "note": "late", "score": 1.5, "extra": {"k": True}, "at": "2024-01-01 00:00:00"}]
    rows += [{"id": 21, "at": "not a time"}]
    schema, table = read(tmp_path, json_lines(rows), "json")

    assert schema.field("note").type == pa.string()
    assert schema.field("score").type == pa.float64()
    assert schema.field("extra").type == pa.struct([("k", pa.bool_())])
    assert schema.field("at").type == pa.string()
    assert table.num_rows == 22 and table.column("note")[20].as_py() == "late"


def test_json_array_is_parsed_incrementally(tmp_path, small_blocks):
    rows = [{"id": i, "nested": {"list": [i, i + 1], "text": "x" * (i % 7)}} for i in range(50)]
    schema, table = read(tmp_path, json.dumps(rows, indent=3).encode(), "json", batch_rows=8)

    assert schema.field("nested").type == pa.struct([("list", pa.list_(pa.int64())), ("text", pa.string())])
    assert table.to_pylist() == rows


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"a": 1}\n{"a": \n', "JSON"),
        (b"[1, 2]", "element 0 of the JSON array is not an object"),
        (b'[{"a": 1} {"a": 2}]', "expected ',' or ']'"),
        (b'[{"a": 1},', "bad JSON in the array"),
        (b'[{"a": 1}  ', "not closed"),
        (b'{"a": 1}\n{"a": "x"}\n{"a": {"b": 1}}\n', "changed"),
    ],
)
def test_bad_json_names_the_file(tmp_path, content, reason):
    with pytest.raises(IngestionFailed) as failure:
        read(tmp_path, content, "json")
    assert "s3://raw/file" in str(failure.value) and reason in str(failure.value)


def test_empty_json_array_has_no_rows(tmp_path):
    schema, table = read(tmp_path, b" [ ] ", "json")
    assert table.num_rows == 0 and schema.names == []


def test_avro_schema_maps_to_arrow(tmp_path):
    schema = {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "fields": [
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {
                "name": "price",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "DONE"]}},
            {"name": "attrs", "type": {"type": "map", "values": "long"}},
            {
                "name": "ship",
                "type": [
                    "null",
                    {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]},
                ],
            },
            {"name": "bill", "type": ["null", "Address"]},
            {"name": "ids", "type": {"type": "array", "items": {"type": "string", "logicalType": "uuid"}}},
        ],
    }
    order_id, item = uuid.uuid4(), uuid.uuid4()
    record = {
        "id": str(order_id),
        "price": decimal.Decimal("12.50"),
        "at": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
        "day": dt.date(2024, 5, 1),
        "state": "DONE",
        "attrs": {"w": 3},
        "ship": {"city": "Oslo"},
        "bill": None,
        "ids": [str(item)],
    }
    arrow_schema, table = read(tmp_path, avro_bytes([record], schema), "avro")

    assert arrow_schema.field("price").type == pa.decimal128(9, 2)
    assert arrow_schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert arrow_schema.field("bill").type == pa.struct([("city", pa.string())])
    row = table.to_pylist()[0]
    assert row["id"] == str(order_id) and row["ids"] == [str(item)]
    assert row["state"] == "DONE" and row["attrs"] == [("w", 3)] and row["ship"] == {"city": "Oslo"}


def test_avro_unions_of_several_types_are_refused(tmp_path):
    schema = {"type": "record", "name": "R", "fields": [{"name": "v", "type": ["null", "int", "string"]}]}
    with pytest.raises(IngestionFailed, match="unsupported Avro union"):
        read(tmp_path, avro_bytes([{"v": 1}], schema), "avro")


def test_orc_stripes_are_rechunked(tmp_path):
    sink = io.BytesIO()
    table = pa.table({"id": pa.array(range(5000), pa.int64())})
    paorc.write_table(table, sink, stripe_size=4096)
    _, back = read(tmp_path, sink.getvalue(), "orc", batch_rows=1000)
    assert back.column("id").to_pylist() == list(range(5000))


@pytest.mark.parametrize(
    ("file_type", "content"),
    [
        ("parquet", csv_bytes([{"a": 1}])),
        ("orc", parquet_bytes(table_of([{"id": 1, "name": "a", "amount": 1.0}]))),
        ("avro", b"id,name\n1,a\n"),
        ("json", parquet_bytes(table_of([{"id": 1, "name": "a", "amount": 1.0}]))),
        ("json", b"id,name\n1,a\n"),
        ("csv", b""),
    ],
)
def test_content_of_another_type_names_the_file(tmp_path, file_type, content):
    with pytest.raises(IngestionFailed) as failure:
        read(tmp_path, content, file_type)
    assert failure.value.file == "s3://raw/file"
    assert f"File content is not {file_type.upper()}" in str(failure.value)


def test_truncated_parquet_names_the_file(tmp_path):
    content = parquet_bytes(table_of([{"id": 1, "name": "a", "amount": 1.0}]))
    with pytest.raises(IngestionFailed, match="Cannot read s3://raw/file"):
        read(tmp_path, content[:8] + content[-8:], "parquet")


def test_json_with_a_byte_order_mark(tmp_path):
    _, lines = read(tmp_path, b"\xef\xbb\xbf" + json_lines([{"a": 1}, {"a": 2}]), "json")
    _, array = read(tmp_path, b"\xef\xbb\xbf" + json.dumps([{"a": 1}, {"a": 2}]).encode(), "json")
    assert lines.to_pylist() == array.to_pylist() == [{"a": 1}, {"a": 2}]
