"""GET .../table/{table}/snapshots (a Headrace extension) over the real Flask app: the history of
real Iceberg, Delta and Hive-style tables written by ingestion jobs, with the job of each snapshot
read back from the table's own commit metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from headrace.ingestion.engine import run_ingestion
from headrace.storage.local import LocalObjectStore
from tests.conftest import BASE
from tests.unit.ingestion.helpers import ROWS, json_lines, make_spec, put


@pytest.fixture
def lakehouse(app, tmp_path, monkeypatch):
    """A fresh catalog database and warehouse, with one catalog of each format."""
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "warehouse"))
    from headrace.api.services.lakehouse import lakehouse as current

    house = current()
    for kind in ("iceberg", "delta", "hive"):
        house.create_catalog(kind, kind)
    return house


@pytest.fixture
def store(tmp_path):
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket("raw")
    return store


def _ingest(store, house, catalog, key, rows, job_id, **target):
    uri = put(store, f"{catalog}/{key}", json_lines(rows))
    return run_ingestion(
        make_spec(catalog, "t", uri, "json", **target), job_id=job_id, lakehouse=house, store=store
    )


def _snapshots(client, headers, catalog, query=""):
    return client.get(f"{BASE}/catalog/{catalog}/schema/sales/table/t/snapshots{query}", headers=headers)


def test_iceberg_snapshots_name_the_job_that_wrote_each(client, admin_headers, lakehouse, store):
    started = datetime.now(UTC) - timedelta(seconds=5)
    first = _ingest(store, lakehouse, "iceberg", "a.jsonl", ROWS, "ingest-a")
    second = _ingest(store, lakehouse, "iceberg", "b.jsonl", ROWS[:2], "ingest-b", write_mode="overwrite")

    answer = _snapshots(client, admin_headers, "iceberg")

    assert answer.status_code == 200 and answer.json["success"] is True
    data = answer.json["data"]
    assert (data["catalog"], data["schema"], data["table"], data["format"]) == (
        "iceberg",
        "sales",
        "t",
        "iceberg",
    )
    assert data["current_version"] == second.version and data["truncated"] is False
    appended, deleted, loaded = data["snapshots"]  # newest first; an overwrite is a delete, then an append
    assert (appended["version"], appended["operation"], appended["rows_added"], appended["total_rows"]) == (
        second.version,
        "append",
        2,
        2,
    )
    assert (deleted["operation"], deleted["rows_deleted"], deleted["total_rows"]) == ("delete", 3, 0)
    assert {appended["job_id"], deleted["job_id"]} == {"ingest-b"}
    assert appended["write_mode"] == deleted["write_mode"] == "overwrite"
    assert (loaded["version"], loaded["job_id"], loaded["rows_added"], loaded["write_mode"]) == (
        first.version,
        "ingest-a",
        3,
        "append",
    )
    assert loaded["parent_version"] is None and deleted["parent_version"] == loaded["version"]
    moment = datetime.fromisoformat(loaded["committed_at"])
    assert started <= moment <= datetime.now(UTC)

    limited = _snapshots(client, admin_headers, "iceberg", "?limit=1").json["data"]
    assert [s["version"] for s in limited["snapshots"]] == [second.version] and limited["truncated"] is True


def test_delta_versions_name_the_job_and_count_the_rows(client, admin_headers, lakehouse, store):
    _ingest(store, lakehouse, "delta", "a.jsonl", ROWS, "ingest-a")
    _ingest(store, lakehouse, "delta", "b.jsonl", ROWS[:2], "ingest-b", write_mode="overwrite")
    changed = [{"id": 1, "name": "new", "amount": 9.0}, {"id": 7, "name": "ned", "amount": 1.0}]
    _ingest(store, lakehouse, "delta", "c.jsonl", changed, "ingest-c", write_mode="merge", merge_keys=["id"])
    lakehouse.write("delta", "sales", "t", pa.table({"id": [8], "name": ["x"], "amount": [0.5]}))  # no job

    data = _snapshots(client, admin_headers, "delta").json["data"]

    assert (data["format"], data["current_version"], data["truncated"]) == ("delta", "3", False)
    versions = [(s["version"], s["operation"], s["rows_added"], s["job_id"]) for s in data["snapshots"]]
    assert versions == [
        ("3", "write (append)", 1, None),
        ("2", "merge", 1, "ingest-c"),
        ("1", "write (overwrite)", 2, "ingest-b"),
        ("0", "write (append)", 3, "ingest-a"),
    ]
    assert data["snapshots"][1]["write_mode"] == "merge" and data["snapshots"][0]["write_mode"] is None
    assert all(s["committed_at"] for s in data["snapshots"])


def test_hive_style_commits_are_listed_too(client, admin_headers, lakehouse, store):
    _ingest(store, lakehouse, "hive", "a.jsonl", ROWS, "ingest-a")

    data = _snapshots(client, admin_headers, "hive").json["data"]

    assert (data["format"], data["current_version"]) == ("parquet", "1")
    assert [(s["version"], s["operation"], s["rows_added"], s["job_id"]) for s in data["snapshots"]] == [
        ("1", "append", 3, "ingest-a")
    ]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/catalog/nope/schema/sales/table/t/snapshots", 404, "CATALOG_NOT_FOUND"),
        ("/catalog/delta/schema/nope/table/t/snapshots", 404, "SCHEMA_NOT_FOUND"),
        ("/catalog/iceberg/schema/sales/table/nope/snapshots", 404, "TABLE_NOT_FOUND"),
        ("/catalog/delta/schema/sales/table/t/snapshots?limit=0", 400, None),
    ],
)
def test_unknown_tables_and_bad_limits_are_named(client, admin_headers, lakehouse, store, path, status, code):
    _ingest(store, lakehouse, "iceberg", "a.jsonl", ROWS, "ingest-a")
    _ingest(store, lakehouse, "delta", "a.jsonl", ROWS, "ingest-a")

    answer = client.get(f"{BASE}{path}", headers=admin_headers)

    assert answer.status_code == status, answer.json
    assert answer.json["success"] is False
    if code:
        assert answer.json["code"] == code
    else:
        assert "limit" in answer.json["error"]


def test_viewers_may_read_the_history(client, viewer_headers, lakehouse, store):
    _ingest(store, lakehouse, "iceberg", "a.jsonl", ROWS, "ingest-a")

    assert _snapshots(client, viewer_headers, "iceberg").status_code == 200
    assert client.get(f"{BASE}/catalog/iceberg/schema/sales/table/t/snapshots").status_code == 401
