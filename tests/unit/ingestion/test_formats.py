"""Every file type into every table format with the Arrow engine, read back with each format's library."""

from __future__ import annotations

import pytest

from headrace.ingestion.engine import ArrowEngine, run_ingestion
from headrace.lakehouse.models import CatalogType
from tests.unit.ingestion.helpers import (
    ROWS,
    avro_bytes,
    csv_bytes,
    json_array,
    json_lines,
    make_spec,
    orc_bytes,
    parquet_bytes,
    put,
    read_back,
    rows_of,
    table_of,
)

NESTED = [
    {"id": 1, "name": "ann", "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "tags": ["a", "b"]},
    {"id": 2, "name": "bob", "address": None, "tags": []},
    {"id": 3, "name": "cyd", "address": {"city": "Lima", "geo": None}, "tags": None},
]

# file type -> (key, content, source options, rows expected back, sort key)
CASES = {
    "json-lines": ("in/rows.jsonl", json_lines(ROWS), "json", {}, ROWS, "id"),
    "json-array-nested": ("in/nested.json", json_array(NESTED), "json", {}, NESTED, "id"),
    "csv": (
        "in/rows.csv",
        csv_bytes(ROWS, delimiter=";", header=False, null="NA"),
        "csv",
        {"file_format_properties": {"field_delimiter": ";", "header": False, "null_value": "NA"}},
        [{"f0": r["id"], "f1": r["name"], "f2": r["amount"]} for r in ROWS],
        "f0",
    ),
    "parquet": ("in/rows.parquet", parquet_bytes(table_of(ROWS)), "parquet", {}, ROWS, "id"),
    "avro": ("in/rows.avro", avro_bytes(ROWS), "avro", {}, ROWS, "id"),
    "orc": ("in/rows.orc", orc_bytes(table_of(ROWS)), "orc", {}, ROWS, "id"),
}


@pytest.mark.parametrize("catalog_type", [t.value for t in CatalogType])
@pytest.mark.parametrize("case", list(CASES))
def test_each_file_type_into_each_format(store, lakehouse, tmp_path, case, catalog_type):
    key, content, file_type, source, expected, sort_key = CASES[case]
    uri = put(store, key, content)
    spec = make_spec(catalog_type, "t", uri, file_type, source=source)

    result = run_ingestion(spec, job_id=f"job-{case}", lakehouse=lakehouse, store=store)

    assert (result.rows_written, result.files, result.already_committed) == (3, [uri], False)
    assert result.bytes_read == len(content)
    assert result.version is not None
    back = read_back(tmp_path, catalog_type, catalog_type, "t")
    assert rows_of(back, sort_key, list(expected[0])) == sorted(expected, key=lambda r: r[sort_key])


def test_small_batches_stream_every_row(store, lakehouse, tmp_path):
    rows = [{"id": i, "name": f"n{i}", "amount": i / 2} for i in range(1000)]
    uri = put(store, "big/rows.jsonl", json_lines(rows))

    result = ArrowEngine(batch_rows=64).run(
        make_spec("iceberg", "big", uri, "json"), job_id="big", lakehouse=lakehouse, store=store
    )

    assert result.rows_written == 1000
    assert rows_of(read_back(tmp_path, "iceberg", "iceberg", "big")) == rows


def test_result_is_json_ready(store, lakehouse):
    uri = put(store, "in/rows.jsonl", json_lines(ROWS))
    result = run_ingestion(
        make_spec("delta", "t", uri, "json"), job_id="x:1", lakehouse=lakehouse, store=store
    )

    data = result.as_dict()

    assert data["job_id"] == "x:1" and data["target"] == "delta.sales.t" and data["version"] == "0"
    assert data["files"] == [uri] and data["skipped_files"] == [] and data["committed"] is True
