"""Upload API over the real Flask app: type checks by name and content, limits, per-file results."""

from __future__ import annotations

import io
import json

import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from tests.conftest import BASE


def _parquet() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2]}), sink)
    return sink.getvalue()


def _orc() -> bytes:
    sink = io.BytesIO()
    orc.write_table(pa.table({"id": [1, 2]}), sink)
    return sink.getvalue()


def _avro() -> bytes:
    sink = io.BytesIO()
    schema = {"type": "record", "name": "r", "fields": [{"name": "id", "type": "long"}]}
    fastavro.writer(sink, schema, [{"id": 1}])
    return sink.getvalue()


FILES = {
    "transactions.json": b'{"id": 1, "amount": 9.5}\n{"id": 2, "amount": 3.0}\n',
    "rows.csv": b"id,amount\n1,9.5\n",
    "data.parquet": _parquet(),
    "data.avro": _avro(),
    "data.orc": _orc(),
}


@pytest.fixture
def storage(app, tmp_path, monkeypatch):
    """Local storage with the default warehouse, ``{storage_root}/warehouse`` (bucket "warehouse")."""
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return tmp_path / "storage"


def _stored(storage) -> list[str]:
    return sorted(str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", list(FILES))
def test_upload_each_type(client, admin_headers, storage, name):
    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(FILES[name]), name), "bucket": "iceberg-bucket", "path": "uploads"},
    )

    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert data["fileName"] == name and data["bucket"] == "iceberg-bucket"
    assert data["key"] == f"uploads/{name}"
    assert data["size"] == len(FILES[name])
    assert data["s3Path"] == f"s3://iceberg-bucket/uploads/{name}"
    assert data["contentType"]
    assert data["replaced"] is False
    assert (storage / "iceberg-bucket" / "uploads" / name).read_bytes() == FILES[name]


def test_multiple_reports_each_file(client, admin_headers, storage):
    response = client.post(
        f"{BASE}/upload/multiple",
        headers=admin_headers,
        data={
            "files": [
                (io.BytesIO(FILES["rows.csv"]), "rows.csv"),
                (io.BytesIO(b"not parquet"), "fake.parquet"),
            ],
            "bucket": "raw",
        },
    )

    assert response.status_code == 201
    data = response.json["data"]
    assert [u["key"] for u in data["uploaded"]] == ["rows.csv"]
    assert data["uploaded"][0]["replaced"] is False and data["uploaded"][0]["success"] is True
    assert data["failed"][0]["fileName"] == "fake.parquet" and data["failed"][0]["code"] == "FILE_CONTENT"
    assert (data["total"], data["successful"], data["failed_count"]) == (2, 1, 1)
    assert _stored(storage) == ["raw/rows.csv"]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("fake.parquet", b"just some text", "FILE_CONTENT"),
        ("fake.orc", FILES["data.parquet"], "FILE_CONTENT"),
        ("fake.avro", b"{}", "FILE_CONTENT"),
        ("binary.json", b"\x00\x01\x02", "FILE_CONTENT"),
        ("notes.txt", b"hello", "FILE_TYPE"),
        ("noextension", b"hello", "FILE_TYPE"),
    ],
)
def test_wrong_types_are_refused_and_nothing_is_stored(client, admin_headers, storage, name, content, code):
    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(content), name), "bucket": "landing"},
    )

    assert response.status_code == 400
    assert response.json["code"] == code
    assert response.json["details"][0]["field"] == "file"
    assert _stored(storage) == []
    if code == "FILE_TYPE":
        assert (
            response.json["error"]
            == "File type not allowed. Allowed types: .json, .csv, .parquet, .avro, .orc"
        )


def test_oversize_file_is_413(client, admin_headers, storage, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__UPLOAD_MAX_BYTES", "1000")
    big = b'{"x": "' + b"a" * 5000 + b'"}'

    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(big), "big.json"), "bucket": "landing"},
    )

    assert response.status_code == 413
    assert response.json["code"] == "PAYLOAD_TOO_LARGE"
    assert _stored(storage) == []


def test_eleven_files_are_refused(client, admin_headers, storage):
    files = [(io.BytesIO(FILES["rows.csv"]), f"f{i}.csv") for i in range(11)]

    response = client.post(
        f"{BASE}/upload/multiple", headers=admin_headers, data={"files": files, "bucket": "landing"}
    )

    assert response.status_code == 400
    assert response.json["details"][0]["field"] == "files"
    assert _stored(storage) == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"bucket": "../etc"}, "bucket"),
        ({"bucket": "UPPER"}, "bucket"),
        ({"bucket": "landing", "path": "../../outside"}, "path"),
        ({"bucket": "landing", "path": "a/../../b"}, "path"),
        ({"bucket": "landing", "path": "a\\b"}, "path"),
        ({"bucket": "landing", "path": "/etc"}, "path"),
        ({"bucket": "landing", "path": "a/" + "b" * 256}, "path"),
        ({"bucket": "warehouse"}, "bucket"),
        ({"bucket": "warehouse", "path": "any/where"}, "bucket"),
        ({}, "bucket"),
        ({"bucket": "landing", "colour": "red"}, "colour"),
    ],
)
def test_bad_targets_are_refused(client, admin_headers, storage, form, field):
    data = {"file": (io.BytesIO(FILES["rows.csv"]), "rows.csv"), **form}

    response = client.post(f"{BASE}/upload", headers=admin_headers, data=data)

    assert response.status_code == 400, response.json
    assert response.json["details"][0]["field"] == field
    assert _stored(storage) == []


def test_traversal_in_the_file_name_is_refused(client, admin_headers, storage):
    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(FILES["rows.csv"]), "../../escape.csv"), "bucket": "landing"},
    )

    assert response.status_code == 400
    assert _stored(storage) == []


def test_missing_file_and_viewer_are_refused(client, admin_headers, viewer_headers, storage):
    missing = client.post(f"{BASE}/upload", headers=admin_headers, data={"bucket": "landing"})
    assert missing.status_code == 400 and missing.json["details"][0]["field"] == "file"

    viewer = client.post(
        f"{BASE}/upload",
        headers=viewer_headers,
        data={"file": (io.BytesIO(FILES["rows.csv"]), "rows.csv"), "bucket": "landing"},
    )
    assert viewer.status_code == 403
    assert _stored(storage) == []


def test_json_arrays_and_json_lines_both_pass(client, admin_headers, storage):
    for name, content in [("a.json", json.dumps([{"x": 1}]).encode()), ("b.json", b'{"x": 1}\n{"x": 2}')]:
        response = client.post(
            f"{BASE}/upload",
            headers=admin_headers,
            data={"file": (io.BytesIO(content), name), "bucket": "landing"},
        )
        assert response.status_code == 201


def test_a_file_name_with_a_folder_into_the_warehouse_is_refused(client, admin_headers, storage, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(storage / "landing" / "wh"))

    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(FILES["rows.csv"]), "wh/cat/rows.csv"), "bucket": "landing"},
    )

    assert response.status_code == 400
    assert response.json["code"] == "RESERVED_LOCATION"
    assert response.json["details"][0]["field"] == "file"
    assert _stored(storage) == []


def test_a_key_that_is_a_folder_of_other_objects_is_400(client, admin_headers, storage):
    first = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(FILES["rows.csv"]), "rows.csv"), "bucket": "landing", "path": "x.csv"},
    )
    assert first.status_code == 201

    response = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(FILES["rows.csv"]), "x.csv"), "bucket": "landing"},
    )

    assert response.status_code == 400 and response.json["details"][0]["field"] == "file"
    assert _stored(storage) == ["landing/x.csv/rows.csv"]


def test_uploads_go_to_s3_when_a_storage_connection_is_set(
    client, admin_headers, monkeypatch, s3_conn_id, raw_s3
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", s3_conn_id)

    for name, content in FILES.items():
        response = client.post(
            f"{BASE}/upload",
            headers=admin_headers,
            data={"file": (io.BytesIO(content), name), "bucket": "s3-landing", "path": "in"},
        )
        assert response.status_code == 201, response.json
        assert response.json["data"]["s3Path"] == f"s3://s3-landing/in/{name}"
        assert isinstance(response.json["data"]["replaced"], bool)
        assert raw_s3.get_object(Bucket="s3-landing", Key=f"in/{name}")["Body"].read() == content

    refused = client.post(
        f"{BASE}/upload",
        headers=admin_headers,
        data={"file": (io.BytesIO(b"text"), "fake.parquet"), "bucket": "s3-landing", "path": "bad"},
    )
    assert refused.status_code == 400
    assert raw_s3.list_objects_v2(Bucket="s3-landing", Prefix="bad/").get("KeyCount", 0) == 0
