"""POST /upload must never reach table data: the warehouse, every catalog's location and the staging
areas are reserved, on local folders and on S3 alike, whatever the configured warehouse path.

Each attack creates a real Iceberg table through the API and the lakehouse service, then tries to
replace its data file and its ``metadata.json`` through the upload endpoints; the table must answer
its original rows afterwards. Outside the reserved locations an upload still replaces an object
(as S3 does), and says so with ``replaced``.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import BASE

ROWS = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["alice", "bob"]})
ATTACK = pa.table({"id": pa.array([666], pa.int64()), "name": ["mallory"]})
REASON = "reserved for table data"


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _upload(client, headers, bucket: str, path: str, name: str, content: bytes, *, multiple: bool = False):
    field = "files" if multiple else "file"
    return client.post(
        f"{BASE}/upload/multiple" if multiple else f"{BASE}/upload",
        headers=headers,
        data={field: (io.BytesIO(content), name), "bucket": bucket, "path": path},
    )


def _assert_reserved(response, field: str) -> None:
    assert response.status_code == 400, response.json
    body = response.json
    assert body["success"] is False
    assert body["code"] == "RESERVED_LOCATION"
    assert REASON in body["error"]
    assert [d["field"] for d in body["details"]] == [field]
    assert REASON in body["details"][0]["message"]


def _rows(client, headers, table: str) -> list[list]:
    response = client.post(
        f"{BASE}/query", headers=headers, json={"sql": f"select id, name from {table} order by id"}
    )
    assert response.status_code == 200, response.json
    return response.json["data"]["rows"]


def _iceberg_table(client, headers, catalog: str = "ice") -> None:
    """An Iceberg table ``<catalog>.sales.orders`` holding ROWS (catalog created through the API)."""
    from headrace.api.services.lakehouse import lakehouse

    created = client.post(f"{BASE}/catalog", headers=headers, json={"name": catalog, "type": "iceberg"})
    assert created.status_code == 201, created.json
    lakehouse().write(catalog, "sales", "orders", ROWS)
    assert _rows(client, headers, f"{catalog}.sales.orders") == [[1, "alice"], [2, "bob"]]


def _split(relative: str) -> tuple[str, str, str]:
    """``bucket/dir/.../name`` -> (bucket, path, name)."""
    bucket, _, rest = relative.partition("/")
    path, _, name = rest.rpartition("/")
    return bucket, path, name


# -- local folders ---------------------------------------------------------------------------------


@pytest.fixture
def local(app, tmp_path, monkeypatch) -> Path:
    """Local storage under tmp_path/storage with the default warehouse ({storage_root}/warehouse)."""
    root = tmp_path / "storage"
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(root))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return root


def _table_files(root: Path, catalog: str = "ice") -> tuple[Path, Path]:
    data = sorted((root / "warehouse" / catalog).rglob("*.parquet"))
    metadata = sorted((root / "warehouse" / catalog).rglob("*.metadata.json"))
    assert data and metadata
    return data[0], metadata[-1]


@pytest.mark.parametrize("multiple", [False, True])
def test_table_files_cannot_be_overwritten_through_the_default_warehouse_bucket(
    client, admin_headers, local, multiple
):
    _iceberg_table(client, admin_headers)
    data_file, metadata_file = _table_files(local)
    before = {p: p.read_bytes() for p in (local / "warehouse").rglob("*") if p.is_file()}
    metadata_json = b'{"format-version": 2, "junk": true}'

    for target, content in [(data_file, _parquet(ATTACK)), (metadata_file, metadata_json)]:
        bucket, path, name = _split(str(target.relative_to(local)))
        assert bucket == "warehouse"
        response = _upload(client, admin_headers, bucket, path, name, content, multiple=multiple)
        _assert_reserved(response, "bucket")

    # Anywhere in the bucket, not only over existing files: the whole bucket is the warehouse.
    _assert_reserved(_upload(client, admin_headers, "warehouse", "", "new.csv", b"id\n1\n"), "bucket")
    after = {p: p.read_bytes() for p in (local / "warehouse").rglob("*") if p.is_file()}
    assert after == before
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]
    meta = client.get(f"{BASE}/catalog/ice/schema/sales/table/orders/metadata", headers=admin_headers)
    assert meta.status_code == 200 and [c["name"] for c in meta.json["data"]["columns"]] == ["id", "name"]


def test_a_warehouse_inside_an_upload_bucket_reserves_only_its_own_prefix(
    client, admin_headers, local, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(local / "landing" / "wh"))
    _iceberg_table(client, admin_headers)
    data_file = sorted((local / "landing" / "wh" / "ice").rglob("*.parquet"))[0]
    original = data_file.read_bytes()
    bucket, path, name = _split(str(data_file.relative_to(local)))
    assert (bucket, path.split("/")[0]) == ("landing", "wh")

    _assert_reserved(_upload(client, admin_headers, bucket, path, name, _parquet(ATTACK)), "path")
    for reserved in ["wh", "wh/", "wh/elsewhere", "wh/.headrace-staging/ice"]:
        _assert_reserved(_upload(client, admin_headers, "landing", reserved, "x.csv", b"id\n1\n"), "path")
    for free in ["", "other", "wh2", "whx/wh", "other/wh"]:
        response = _upload(client, admin_headers, "landing", free, "x.csv", b"id\n1\n")
        assert response.status_code == 201, (free, response.json)

    assert data_file.read_bytes() == original
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_a_warehouse_outside_the_storage_root_leaves_every_bucket_free(
    client, admin_headers, local, tmp_path, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "elsewhere" / "wh"))
    _iceberg_table(client, admin_headers)

    response = _upload(client, admin_headers, "warehouse", "ice", "x.csv", b"id\n1\n")

    assert response.status_code == 201, response.json
    assert (local / "warehouse" / "ice" / "x.csv").is_file()
    assert not list((tmp_path / "elsewhere").rglob("x.csv"))


def test_a_storage_root_inside_the_warehouse_refuses_every_upload(
    client, admin_headers, tmp_path, monkeypatch
):
    warehouse = tmp_path / "lake"
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(warehouse / "ice"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(warehouse))
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    _iceberg_table(client, admin_headers)
    namespace = next((warehouse / "ice").iterdir()).name  # e.g. sales.db: a bucket name, in the catalog

    _assert_reserved(_upload(client, admin_headers, namespace, "orders", "x.csv", b"id\n1\n"), "bucket")
    _assert_reserved(_upload(client, admin_headers, "landing", "", "x.csv", b"id\n1\n"), "bucket")
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_catalogs_with_a_location_of_their_own_and_their_staging_areas_are_reserved(
    client, admin_headers, local, tmp_path
):
    """A catalog created through a LakehouseHook connection with another warehouse (same catalog
    database) keeps its tables in a bucket that uploads use too: its folder and the Spark staging
    folder next to it are reserved, the rest of the bucket is not."""
    from headrace.lakehouse.models import CatalogType
    from headrace.lakehouse.service import Lakehouse, LakehouseSettings

    other = Lakehouse(
        LakehouseSettings(
            catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(local / "shared" / "lake")
        )
    )
    other.create_catalog("own", CatalogType.ICEBERG)
    other.write("own", "sales", "orders", ROWS)
    data_file = sorted((local / "shared" / "lake" / "own").rglob("*.parquet"))[0]
    original = data_file.read_bytes()
    bucket, path, name = _split(str(data_file.relative_to(local)))

    _assert_reserved(_upload(client, admin_headers, bucket, path, name, _parquet(ATTACK)), "path")
    _assert_reserved(_upload(client, admin_headers, "shared", "lake/own", "x.csv", b"id\n1\n"), "path")
    staging = "lake/.headrace-staging/own/sales/orders/spark-job"
    _assert_reserved(
        _upload(client, admin_headers, "shared", staging, "part-0.parquet", _parquet(ATTACK)), "path"
    )
    assert _upload(client, admin_headers, "shared", "lake/free", "x.csv", b"id\n1\n").status_code == 201
    assert data_file.read_bytes() == original
    assert _rows(client, admin_headers, "own.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_the_warehouse_is_found_through_symlinks(client, admin_headers, local, tmp_path, monkeypatch):
    """A warehouse configured through a symlink to a folder in the storage root is still reserved."""
    (local / "landing" / "wh").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(local / "landing" / "wh")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "alias"))
    _iceberg_table(client, admin_headers)

    _assert_reserved(_upload(client, admin_headers, "landing", "wh/ice", "x.csv", b"id\n1\n"), "path")
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_uploads_outside_the_warehouse_replace_and_say_so(client, admin_headers, local):
    first = _upload(client, admin_headers, "landing", "in", "rows.csv", b"id\n1\n")
    again = _upload(client, admin_headers, "landing", "in", "rows.csv", b"id\n2\n")

    assert first.status_code == again.status_code == 201
    assert first.json["data"]["replaced"] is False
    assert again.json["data"]["replaced"] is True
    assert (local / "landing" / "in" / "rows.csv").read_bytes() == b"id\n2\n"

    multiple = client.post(
        f"{BASE}/upload/multiple",
        headers=admin_headers,
        data={
            "files": [(io.BytesIO(b"id\n3\n"), "rows.csv"), (io.BytesIO(b"id\n4\n"), "new.csv")],
            "bucket": "landing",
            "path": "in",
        },
    )
    assert multiple.status_code == 201
    assert [(u["fileName"], u["replaced"]) for u in multiple.json["data"]["uploaded"]] == [
        ("rows.csv", True),
        ("new.csv", False),
    ]


@pytest.mark.parametrize(
    ("path", "name", "field"),
    [
        ("a" * 256, "x.csv", "path"),
        ("ok/" + "é" * 128, "x.csv", "path"),  # 256 bytes in UTF-8
        ("", "a" * 252 + ".csv", "file"),
        ("in", "é" * 126 + ".csv", "file"),  # 256 bytes
    ],
)
def test_names_over_255_bytes_are_400_naming_the_limit(client, admin_headers, local, path, name, field):
    response = _upload(client, admin_headers, "landing", path, name, b"id\n1\n")

    assert response.status_code == 400, response.json
    assert [d["field"] for d in response.json["details"]] == [field]
    assert "255 bytes" in response.json["details"][0]["message"]
    assert not (local / "landing").exists() or not any((local / "landing").rglob("*.csv"))


def test_names_of_255_bytes_are_fine(client, admin_headers, local):
    response = _upload(client, admin_headers, "landing", "a" * 255, "b" * 251 + ".csv", b"id\n1\n")

    assert response.status_code == 201, response.json


# -- S3 --------------------------------------------------------------------------------------------


@pytest.fixture
def on_s3(app, tmp_path, monkeypatch, s3_conn_id, raw_s3):
    """S3 storage (moto) for uploads and the warehouse alike; returns a fresh bucket name."""
    bucket = f"landing-{uuid.uuid4().hex[:10]}"
    raw_s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", s3_conn_id)
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return bucket


def _keys(raw_s3, bucket: str, prefix: str = "") -> dict[str, str]:
    objects = raw_s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in objects}


@pytest.mark.parametrize("multiple", [False, True])
def test_s3_table_files_cannot_be_overwritten_when_the_warehouse_shares_the_bucket(
    client, admin_headers, on_s3, raw_s3, monkeypatch, multiple
):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", f"s3://{on_s3}/wh")
    _iceberg_table(client, admin_headers)
    before = _keys(raw_s3, on_s3, "wh/")
    data_key = next(k for k in before if k.endswith(".parquet"))
    metadata_key = sorted(k for k in before if k.endswith(".metadata.json"))[-1]

    for key, content in [(data_key, _parquet(ATTACK)), (metadata_key, b'{"junk": true}')]:
        path, _, name = key.rpartition("/")
        _assert_reserved(
            _upload(client, admin_headers, on_s3, path, name, content, multiple=multiple), "path"
        )
    _assert_reserved(_upload(client, admin_headers, on_s3, "wh", "x.csv", b"id\n1\n"), "path")

    free = _upload(client, admin_headers, on_s3, "other", "x.csv", b"id\n1\n")
    assert free.status_code == 201 and free.json["data"]["s3Path"] == f"s3://{on_s3}/other/x.csv"
    assert _keys(raw_s3, on_s3, "wh/") == before
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_s3_warehouse_at_a_bucket_root_reserves_the_bucket(client, admin_headers, on_s3, raw_s3, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", f"s3://{on_s3}")
    _iceberg_table(client, admin_headers)
    before = _keys(raw_s3, on_s3)
    data_key = next(k for k in before if k.endswith(".parquet"))
    path, _, name = data_key.rpartition("/")

    _assert_reserved(_upload(client, admin_headers, on_s3, path, name, _parquet(ATTACK)), "bucket")
    _assert_reserved(_upload(client, admin_headers, on_s3, "", "x.csv", b"id\n1\n"), "bucket")

    assert _keys(raw_s3, on_s3) == before
    assert _rows(client, admin_headers, "ice.sales.orders") == [[1, "alice"], [2, "bob"]]


def test_s3_uploads_say_when_they_replace(client, admin_headers, on_s3, raw_s3, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", f"s3://{on_s3}/wh")

    first = _upload(client, admin_headers, on_s3, "in", "rows.csv", b"id\n1\n")
    again = _upload(client, admin_headers, on_s3, "in", "rows.csv", b"id\n2\n")

    assert (first.json["data"]["replaced"], again.json["data"]["replaced"]) == (False, True)
    assert raw_s3.get_object(Bucket=on_s3, Key="in/rows.csv")["Body"].read() == b"id\n2\n"


def test_s3_names_over_255_bytes_are_400(client, admin_headers, on_s3, raw_s3):
    response = _upload(client, admin_headers, on_s3, "a" * 256, "x.csv", b"id\n1\n")

    assert response.status_code == 400 and response.json["details"][0]["field"] == "path"
    assert _keys(raw_s3, on_s3) == {}


def test_uploads_reserve_what_the_apis_lakehouse_uses(client, admin_headers, local, monkeypatch):
    """The upload check reads the same settings as LakehouseHook() (without S3 credentials)."""
    from headrace.api.services.uploads import reserved_locations
    from headrace.hooks.lakehouse import LakehouseHook

    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(local / "landing" / "wh"))
    _iceberg_table(client, admin_headers)

    assert reserved_locations() == LakehouseHook().get_conn().reserved_locations()
    assert [r.uri for r in reserved_locations()][:2] == [
        str(local / "landing" / "wh"),
        str(local / "landing" / "wh" / "ice"),
    ]
