"""Bucket, key and path rules, and the local store's own refusal to leave its bucket."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from headrace.storage import (
    InvalidObjectName,
    LocalObjectStore,
    ObjectPath,
    join_key,
    parse_path,
    validate_bucket,
    validate_key,
)


@pytest.mark.parametrize("name", ["abc", "my-bucket", "logs.2024", "a" * 63, "0bucket9", "raw-data.v2"])
def test_valid_buckets(name):
    assert validate_bucket(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "My-Bucket",
        "under_score",
        "-leading",
        "trailing-",
        ".dot",
        "dot.",
        "two..dots",
        "192.168.1.10",
        "has space",
        "xn--punycode",
        "name-s3alias",
        "",
        "bücket",
        "../etc",
    ],
)
def test_invalid_buckets(name):
    with pytest.raises(InvalidObjectName) as exc:
        validate_bucket(name)
    assert exc.value.field == "bucket"
    assert exc.value.message


@pytest.mark.parametrize(
    "key", ["a", "raw/orders/2024-01.csv", "with space/é.txt", ".hidden", "a..b/c", "x" * 1024, "€" * 341]
)
def test_valid_keys_are_returned_unchanged(key):
    assert validate_key(key) is key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "..",
        ".",
        "../x",
        "a/../../x",
        "a/./b",
        "a/..",
        "/etc/passwd",
        "a//b",
        "a/",
        "nul\x00byte",
        "tab\there",
        "new\nline",
        "del\x7f",
        "back\\slash",
        "..\\windows",
        "x" * 1025,
        "€" * 342,  # 1026 bytes in UTF-8
        "lone\udc80surrogate",
    ],
)
def test_invalid_keys(key):
    with pytest.raises(InvalidObjectName) as exc:
        validate_key(key)
    assert exc.value.field == "key"


def test_validate_key_reports_the_callers_field():
    with pytest.raises(InvalidObjectName) as exc:
        validate_key("../x", field="path")
    assert exc.value.field == "path"
    assert "invalid path" in str(exc.value)


def test_join_key():
    assert join_key("raw", "/orders/", "", "2024.csv") == "raw/orders/2024.csv"
    assert join_key("/a/b/", "c") == "a/b/c"
    for parts in [("a", ".."), ("", "/"), ("a", "b//c")]:
        with pytest.raises(InvalidObjectName):
            join_key(*parts)


def test_parse_path():
    assert parse_path("s3://bucket/raw/a.csv") == ObjectPath("bucket", "raw/a.csv")
    assert parse_path("s3a://bucket/raw/") == ObjectPath("bucket", "raw/")
    assert parse_path("S3://bucket") == ObjectPath("bucket", "")
    assert parse_path("s3://bucket/") == ObjectPath("bucket", "")
    assert str(ObjectPath("bucket", "raw/a.csv")) == "s3://bucket/raw/a.csv"
    assert str(parse_path("s3://bucket/raw/")) == "s3://bucket/raw/"


@pytest.mark.parametrize(
    "uri",
    [
        "bucket/key",
        "/local/file",
        "file:///etc/passwd",
        "gs://bucket/key",
        "s3://",
        "s3://Bad_Bucket/key",
        "s3://bucket//key",
        "s3://bucket/a/../../x",
        "s3://bucket/a//",
        "s3://bucket/nul\x00",
        None,
    ],
)
def test_invalid_paths(uri):
    with pytest.raises(InvalidObjectName) as exc:
        parse_path(uri)
    assert exc.value.field == "path"


def test_local_store_refuses_escapes_even_without_validation(tmp_path: Path):
    """The private resolver checks containment itself, so a bypassed validate_key still cannot escape."""
    (tmp_path / "secret.txt").write_text("do not serve")
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket("bucket")

    for key in ["../x", "../../secret.txt", "a/../../other-bucket/x", "/etc/passwd", "."]:
        with pytest.raises(InvalidObjectName):
            store._path_for("bucket", key)
    with pytest.raises(InvalidObjectName):
        store._path_for("..", "secret.txt")


def test_local_store_does_not_follow_symlinks_out_of_the_bucket(tmp_path: Path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("do not serve")
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket("bucket")
    os.symlink(tmp_path / "outside", tmp_path / "storage" / "bucket" / "link")

    with pytest.raises(InvalidObjectName):
        store.open("bucket", "link/secret.txt")
    with pytest.raises(InvalidObjectName):
        store.put("bucket", "link/new.txt", io.BytesIO(b"x"))
    assert list(store.list("bucket")) == []
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.txt"]


def test_local_store_layout_and_tidiness(tmp_path: Path):
    """Buckets are folders, keys are files; folders vanish with their last object, as S3 prefixes do."""
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bucket")
    store.put("bucket", "a/b/c.txt", io.BytesIO(b"hello"))

    assert (tmp_path / "bucket" / "a" / "b" / "c.txt").read_bytes() == b"hello"
    assert store.local_path("bucket", "a/b/c.txt") == (tmp_path / "bucket" / "a" / "b" / "c.txt").resolve()

    # A temp file of an upload in progress is not an object, and its name cannot be used as a key.
    (tmp_path / "bucket" / "a" / ".headrace-tmp-x1.part").write_bytes(b"partial")
    assert [info.key for info in store.list("bucket")] == ["a/b/c.txt"]
    with pytest.raises(InvalidObjectName):
        store.put("bucket", "a/.headrace-tmp-x2.part", io.BytesIO(b"x"))
    (tmp_path / "bucket" / "a" / ".headrace-tmp-x1.part").unlink()

    store.delete("bucket", "a/b/c.txt")
    assert list((tmp_path / "bucket").iterdir()) == []


def test_local_store_reports_file_and_prefix_collisions(tmp_path: Path):
    """S3 allows both "a" and "a/b"; folders cannot, so the local store says so instead of crashing."""
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bucket")
    store.put("bucket", "a", io.BytesIO(b"file"))
    store.put("bucket", "d/e", io.BytesIO(b"file"))

    with pytest.raises(InvalidObjectName):
        store.put("bucket", "a/b", io.BytesIO(b"x"))
    with pytest.raises(InvalidObjectName):
        store.put("bucket", "d", io.BytesIO(b"x"))
    assert [info.key for info in store.list("bucket")] == ["a", "d/e"]
