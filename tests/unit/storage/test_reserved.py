"""Reserved locations: which buckets and keys of a store lie in them, on both backends."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from headrace.storage import (
    MAX_SEGMENT_BYTES,
    InvalidObjectName,
    LocalObjectStore,
    ObjectStore,
    ReservedLocation,
    find_reserved,
    s3_location,
    validate_segments,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://landing/wh", ("landing", "wh")),
        ("s3://landing/wh/", ("landing", "wh")),
        ("S3A://landing//wh//x/", ("landing", "wh/x")),
        ("s3://landing", ("landing", "")),
        ("s3://landing/", ("landing", "")),
        ("/data/wh", None),
        ("file:///data/wh", None),
        ("gs://landing/wh", None),
    ],
)
def test_s3_location(uri, expected):
    assert s3_location(uri) == expected


@pytest.mark.parametrize(
    ("bucket", "key", "inside"),
    [
        ("landing", "", False),
        ("landing", "wh", True),
        ("landing", "wh/x.csv", True),
        ("landing", "wh/cat/data/part-0.parquet", True),
        ("landing", "wh2/x.csv", False),
        ("landing", "whx", False),
        ("landing", "other/wh/x.csv", False),
        ("landing", "x.csv", False),
        ("other", "wh/x.csv", False),
    ],
)
def test_s3_locations_are_compared_by_name_in_both_stores(store: ObjectStore, bucket, key, inside):
    assert store.lies_in("s3://landing/wh", bucket, key) is inside
    assert store.lies_in("s3://landing/wh/", bucket, key) is inside


def test_an_s3_bucket_root_reserves_the_whole_bucket(store: ObjectStore):
    assert store.lies_in("s3://landing", "landing")
    assert store.lies_in("s3://landing/", "landing", "any/key.csv")
    assert not store.lies_in("s3://landing", "landing2", "any/key.csv")
    assert not store.lies_in("s3://landing/wh", "landing")  # a prefix does not reserve the bucket


def test_the_s3_store_holds_no_local_folders(s3_conn_id):
    from headrace.storage import S3ObjectStore

    store = S3ObjectStore.from_connection(s3_conn_id)
    assert not store.lies_in("/", "landing", "wh/x.csv")
    assert not store.lies_in("file:///", "landing")


@pytest.fixture
def local(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "storage")


def test_local_folders_inside_the_root(local: LocalObjectStore, tmp_path: Path):
    warehouse = tmp_path / "storage" / "warehouse"
    nested = tmp_path / "storage" / "landing" / "wh"

    assert local.lies_in(str(warehouse), "warehouse")
    assert local.lies_in(str(warehouse), "warehouse", "cat/t/metadata/v1.metadata.json")
    assert not local.lies_in(str(warehouse), "warehouse2", "x.csv")
    assert not local.lies_in(str(nested), "landing")
    assert local.lies_in(str(nested), "landing", "wh")
    assert local.lies_in(str(nested) + "/", "landing", "wh/a.csv")
    assert local.lies_in(nested.as_uri(), "landing", "wh/a.csv")
    assert not local.lies_in(str(nested), "landing", "wh2/a.csv")
    assert not local.lies_in(str(nested), "landing", "a.csv")


def test_a_root_inside_the_location_puts_every_bucket_in_it(tmp_path: Path):
    store = LocalObjectStore(tmp_path / "lake" / "cat")

    assert store.lies_in(str(tmp_path / "lake"), "anything")
    assert store.lies_in(str(tmp_path), "anything", "a/b.csv")
    assert not store.lies_in(str(tmp_path / "elsewhere"), "anything", "a/b.csv")


def test_local_locations_are_resolved(local: LocalObjectStore, tmp_path: Path, monkeypatch):
    (tmp_path / "storage" / "landing" / "wh").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "storage" / "landing" / "wh")
    monkeypatch.chdir(tmp_path)

    assert local.lies_in(str(tmp_path / "alias"), "landing", "wh/x.csv")
    assert local.lies_in("alias", "landing", "wh/x.csv")  # relative to the working folder
    assert local.lies_in(str(tmp_path / "storage" / "x" / ".." / "landing"), "landing")
    assert not local.lies_in("", "landing", "wh/x.csv")


def test_a_bucket_symlinked_into_a_location_cannot_be_reached(local: LocalObjectStore, tmp_path: Path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "sneaky").symlink_to(tmp_path / "lake")

    with pytest.raises(InvalidObjectName):  # the local store refuses buckets that leave the root
        local.lies_in(str(tmp_path / "lake"), "sneaky")


def test_find_reserved_reports_the_bucket_first(store: ObjectStore):
    locations = [ReservedLocation("s3://landing/wh"), ReservedLocation("s3://warehouse")]

    assert find_reserved(store, "warehouse", "a/b.csv", locations).field == "bucket"
    hit = find_reserved(store, "landing", "wh/a.csv", locations)
    assert hit.field == "path" and hit.location.uri == "s3://landing/wh"
    assert hit.location.reason == "reserved for table data"
    assert find_reserved(store, "landing", "wh/a.csv", locations, key_field="file").field == "file"
    assert find_reserved(store, "landing", "", locations) is None
    assert find_reserved(store, "landing", "other/a.csv", locations) is None
    assert find_reserved(store, "landing", "wh/a.csv", []) is None


def test_segments_over_255_bytes_are_refused():
    assert validate_segments("a" * MAX_SEGMENT_BYTES + "/b") == "a" * 255 + "/b"
    assert validate_segments("é" * 127) == "é" * 127  # 254 bytes
    for key in ["a" * 256, "ok/" + "é" * 128, "x/" + "b" * 300 + "/c"]:
        with pytest.raises(InvalidObjectName) as exc:
            validate_segments(key, field="path")
        assert exc.value.field == "path" and "255 bytes" in exc.value.message


def test_the_local_store_refuses_long_names_instead_of_failing(local: LocalObjectStore):
    local.create_bucket("landing")
    long_key = "in/" + "n" * 256 + ".csv"

    for call in (
        lambda: local.put("landing", long_key, io.BytesIO(b"x")),
        lambda: local.head("landing", long_key),
        lambda: local.open("landing", long_key),
    ):
        with pytest.raises(InvalidObjectName) as exc:
            call()
        assert "255 bytes" in exc.value.message
    assert list(local.list("landing")) == []


def test_has_object_in_both_stores(store: ObjectStore, bucket: str):
    assert store.has_object(bucket, "in/a.csv") is False
    store.put(bucket, "in/a.csv", io.BytesIO(b"x"))
    assert store.has_object(bucket, "in/a.csv") is True
    assert store.has_object(bucket, "in") is False  # a prefix is not an object


def test_s3_has_object_takes_a_403_for_a_missing_key():
    """Credentials without s3:ListBucket get 403 for HEAD of a missing key; they may still upload."""
    from botocore.exceptions import ClientError

    from headrace.storage import S3ObjectStore

    class Client:
        def __init__(self, code: str):
            self.code = code

        def head_object(self, **_):
            raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "HeadObject")

    assert S3ObjectStore(Client("403")).has_object("landing", "a.csv") is False
    with pytest.raises(ClientError):
        S3ObjectStore(Client("500")).has_object("landing", "a.csv")
