"""One contract, two backends: every test runs on the local folders and on the moto S3 server."""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from headrace.storage import (
    BucketNotFound,
    InvalidObjectName,
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
)
from headrace.storage.s3 import PART_SIZE

MIB = 1024 * 1024


class ChunkedStream:
    """A non-seekable stream that produces pseudo-random data chunk by chunk, like a request body.

    It refuses unbounded reads, so a store that tried to load the whole object into memory fails.
    """

    def __init__(self, size: int, chunk: int = MIB, fail_after: int | None = None, seed: int = 7):
        self.remaining = size
        self.chunk = chunk
        self.fail_after = fail_after
        self.produced = 0
        self.sha256 = hashlib.sha256()
        self.largest_read = 0
        self._random = random.Random(seed)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("unbounded read(): the store would buffer the whole stream")
        self.largest_read = max(self.largest_read, size)
        if self.fail_after is not None and self.produced >= self.fail_after:
            raise StreamBroke(f"client went away after {self.produced} bytes")
        if not self._buffer and self.remaining:
            n = min(self.chunk, self.remaining)
            self._buffer = self._random.randbytes(n)
            self.remaining -= n
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.produced += len(data)
        self.sha256.update(data)
        return data


class StreamBroke(OSError):
    """The upload's source failed midway (a dropped connection, say)."""


def put_bytes(store: ObjectStore, bucket: str, key: str, data: bytes, **kwargs):
    return store.put(bucket, key, io.BytesIO(data), **kwargs)


def read_bytes(store: ObjectStore, bucket: str, key: str) -> bytes:
    with store.open(bucket, key) as stream:
        return stream.read()


def test_buckets_are_created_explicitly_and_idempotently(store: ObjectStore):
    name = f"headrace-{uuid.uuid4().hex[:8]}"
    assert not store.bucket_exists(name)
    store.create_bucket(name)
    store.create_bucket(name)
    assert store.bucket_exists(name)


def test_put_open_round_trip(store: ObjectStore, bucket: str):
    info = put_bytes(store, bucket, "raw/orders/2024.csv", b"id,total\n1,9.5\n")

    assert (info.bucket, info.key, info.size) == (bucket, "raw/orders/2024.csv", 15)
    assert info.content_type == "text/csv"
    assert info.last_modified.utcoffset() == timedelta(0)
    assert read_bytes(store, bucket, "raw/orders/2024.csv") == b"id,total\n1,9.5\n"

    put_bytes(store, bucket, "raw/orders/2024.csv", b"replaced")
    assert read_bytes(store, bucket, "raw/orders/2024.csv") == b"replaced"


def test_content_types_of_data_files(store: ObjectStore, bucket: str):
    expected = {
        "t.parquet": "application/vnd.apache.parquet",
        "t.avro": "application/avro",
        "t.orc": "application/vnd.apache.orc",
        "t.jsonl": "application/x-ndjson",
        "t.csv.gz": "application/gzip",
    }
    for key, content_type in expected.items():
        assert put_bytes(store, bucket, key, b"x").content_type == content_type
        assert store.head(bucket, key).content_type == content_type


def test_open_streams_in_chunks(store: ObjectStore, bucket: str):
    put_bytes(store, bucket, "blob.bin", bytes(range(256)) * 64)

    with store.open(bucket, "blob.bin") as stream:
        assert stream.read(10) == bytes(range(10))
        assert len(stream.read()) == 256 * 64 - 10


def test_head(store: ObjectStore, bucket: str):
    put_bytes(store, bucket, "a/data.json", b"{}")

    info = store.head(bucket, "a/data.json")
    assert info is not None
    assert (info.size, info.content_type) == (2, "application/json")
    assert info.last_modified.utcoffset() == timedelta(0)
    assert store.head(bucket, "a/missing.json") is None
    assert store.head(bucket, "a") is None  # a prefix is not an object


def test_list_is_recursive_sorted_and_filtered_by_prefix(store: ObjectStore, bucket: str):
    keys = ["z", "ab/4", "a/b/3.json", "a-b", "a/2.txt", "a/1.csv", "a/b/c/d/5"]
    for n, key in enumerate(keys):
        put_bytes(store, bucket, key, b"x" * n)

    def listed(prefix: str = "") -> list[str]:
        return [info.key for info in store.list(bucket, prefix)]

    # Byte order, as S3 lists: '-' (0x2d) sorts before '/' (0x2f).
    assert listed() == ["a-b", "a/1.csv", "a/2.txt", "a/b/3.json", "a/b/c/d/5", "ab/4", "z"]
    assert listed("a/") == ["a/1.csv", "a/2.txt", "a/b/3.json", "a/b/c/d/5"]
    assert listed("a") == ["a-b", "a/1.csv", "a/2.txt", "a/b/3.json", "a/b/c/d/5", "ab/4"]
    assert listed("a/b") == ["a/b/3.json", "a/b/c/d/5"]
    assert listed("a/b/c/") == ["a/b/c/d/5"]
    assert listed("nothing/") == []
    assert listed("z/") == []
    sizes = {info.key: info.size for info in store.list(bucket)}
    assert sizes == {key: n for n, key in enumerate(keys)}


def test_delete_is_idempotent(store: ObjectStore, bucket: str):
    put_bytes(store, bucket, "dir/file.txt", b"x")

    store.delete(bucket, "dir/file.txt")
    store.delete(bucket, "dir/file.txt")
    store.delete(bucket, "never/was")

    assert store.head(bucket, "dir/file.txt") is None
    assert list(store.list(bucket)) == []


def test_delete_prefix_counts(store: ObjectStore, bucket: str):
    for key in ["p/1", "p/2", "p/deep/3", "q"]:
        put_bytes(store, bucket, key, b"x")

    assert store.delete_prefix(bucket, "p/") == 3
    assert store.delete_prefix(bucket, "p/") == 0
    assert [info.key for info in store.list(bucket)] == ["q"]
    assert store.delete_prefix(bucket, "") == 1
    assert list(store.list(bucket)) == []


def test_missing_bucket_and_object(store: ObjectStore, bucket: str):
    with pytest.raises(ObjectNotFound) as missing:
        store.open(bucket, "no/such.key")
    assert (missing.value.bucket, missing.value.key) == (bucket, "no/such.key")

    gone = "headrace-no-such-bucket"
    with pytest.raises(BucketNotFound) as no_bucket:
        put_bytes(store, gone, "k", b"x")
    assert no_bucket.value.bucket == gone
    for call in (
        lambda: store.open(gone, "k"),
        lambda: store.head(gone, "k"),
        lambda: list(store.list(gone)),
        lambda: store.delete(gone, "k"),
        lambda: store.delete_prefix(gone, ""),
    ):
        with pytest.raises(BucketNotFound):
            call()
    assert not store.bucket_exists(gone)


def test_invalid_names_never_reach_the_backend(store: ObjectStore, bucket: str):
    for key in ["../x", "/etc/passwd", "a//b", "a\\b", "a/./b", "nul\x00"]:
        with pytest.raises(InvalidObjectName):
            put_bytes(store, bucket, key, b"x")
    with pytest.raises(InvalidObjectName):
        store.create_bucket("Not_A_Bucket")
    with pytest.raises(InvalidObjectName):
        list(store.list(bucket, "../"))


def test_uri_names_the_bucket_in_both_modes(store: ObjectStore, bucket: str):
    assert store.uri(bucket, "raw/a.csv") == f"s3://{bucket}/raw/a.csv"
    assert store.uri(bucket, "") == f"s3://{bucket}/"
    local = store.local_path(bucket, "raw/a.csv")
    if isinstance(store, LocalObjectStore):
        assert local is not None and local.parts[-3:] == (bucket, "raw", "a.csv")
    else:
        assert local is None


def test_failed_upload_leaves_nothing_behind(store: ObjectStore, bucket: str, request):
    put_bytes(store, bucket, "keep/old.bin", b"previous version")
    # 9 MiB before failing: past the 8 MiB multipart threshold, so S3 has a multipart upload to abort.
    stream = ChunkedStream(20 * MIB, fail_after=9 * MIB)

    with pytest.raises(StreamBroke):
        store.put(bucket, "keep/new.bin", stream)
    with pytest.raises(StreamBroke):
        store.put(bucket, "keep/old.bin", ChunkedStream(MIB, fail_after=1000, chunk=100))

    assert store.head(bucket, "keep/new.bin") is None
    assert read_bytes(store, bucket, "keep/old.bin") == b"previous version"
    assert [info.key for info in store.list(bucket)] == ["keep/old.bin"]
    if isinstance(store, LocalObjectStore):
        files = [p.name for p in Path(store.local_path(bucket, "keep/old.bin")).parent.parent.rglob("*")]
        assert sorted(files) == ["keep", "old.bin"]  # no temp file, no stray folder
    else:
        raw_s3 = request.getfixturevalue("raw_s3")
        assert raw_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_large_object_is_streamed(store: ObjectStore, bucket: str, request):
    stream = ChunkedStream(20 * MIB)

    info = store.put(bucket, "big/blob.bin", stream)

    assert info.size == 20 * MIB == stream.produced
    assert stream.largest_read <= 8 * MIB  # read in bounded chunks, never all at once
    digest = stream.sha256.hexdigest()
    with store.open(bucket, "big/blob.bin") as body:
        read_back = hashlib.sha256()
        while chunk := body.read(MIB):
            read_back.update(chunk)
    assert read_back.hexdigest() == digest

    if isinstance(store, LocalObjectStore):
        path = store.local_path(bucket, "big/blob.bin")
        assert path.stat().st_size == 20 * MIB
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    else:  # ask the server directly: one object, uploaded in three 8 MiB parts
        raw_s3 = request.getfixturevalue("raw_s3")
        head = raw_s3.head_object(Bucket=bucket, Key="big/blob.bin")
        assert head["ContentLength"] == 20 * MIB
        assert head["ETag"].strip('"').endswith("-3")
        body = raw_s3.get_object(Bucket=bucket, Key="big/blob.bin")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest


def test_s3_delete_prefix_spans_pages_and_batches(s3_conn_id: str, raw_s3):
    """More than 1000 keys: listing needs two pages and DeleteObjects two batches."""
    from headrace.storage import S3ObjectStore

    store = S3ObjectStore.from_connection(s3_conn_id)
    bucket = f"batch-{uuid.uuid4().hex[:8]}"
    store.create_bucket(bucket)
    for n in range(1003):
        raw_s3.put_object(Bucket=bucket, Key=f"many/{n:05d}", Body=b"")
    raw_s3.put_object(Bucket=bucket, Key="other", Body=b"")

    assert [info.key for info in store.list(bucket, "many/")] == [f"many/{n:05d}" for n in range(1003)]
    assert store.delete_prefix(bucket, "many/") == 1003
    assert [info.key for info in store.list(bucket)] == ["other"]


def test_s3_keeps_the_content_type_given_to_put(s3_conn_id: str):
    """S3 stores the caller's type; the local store cannot and always reports the guessed one."""
    from headrace.storage import S3ObjectStore

    store = S3ObjectStore.from_connection(s3_conn_id)
    bucket = f"ctype-{uuid.uuid4().hex[:8]}"
    store.create_bucket(bucket)

    assert put_bytes(store, bucket, "x.dat", b"a,b", content_type="text/csv").content_type == "text/csv"
    assert store.head(bucket, "x.dat").content_type == "text/csv"


def _no_leftovers(store: ObjectStore, bucket: str, request) -> None:
    if isinstance(store, LocalObjectStore):
        assert [p for p in (store.root / bucket).rglob("*") if p.is_file()] == []  # no temp file
    else:
        raw_s3 = request.getfixturevalue("raw_s3")
        assert raw_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_writer_publishes_only_on_commit(store: ObjectStore, bucket: str, request):
    stream = ChunkedStream(20 * MIB, chunk=64 * 1024)

    with store.writer(bucket, "w/big.csv") as writer:
        while chunk := stream.read(64 * 1024):
            writer.write(chunk)
        assert store.head(bucket, "w/big.csv") is None  # parts sent, nothing visible yet
        info = writer.commit()

    assert info.size == 20 * MIB == writer.size
    assert info.content_type == "text/csv"
    with store.open(bucket, "w/big.csv") as body:
        assert hashlib.sha256(body.read()).hexdigest() == stream.sha256.hexdigest()
    if not isinstance(store, LocalObjectStore):
        head = request.getfixturevalue("raw_s3").head_object(Bucket=bucket, Key="w/big.csv")
        parts = -(-20 * MIB // PART_SIZE)
        assert head["ETag"].strip('"').endswith(f"-{parts}")  # parts sent while writing


def test_an_aborted_writer_leaves_nothing_and_keeps_the_previous_object(
    store: ObjectStore, bucket: str, request
):
    put_bytes(store, bucket, "w/old.csv", b"previous version")

    with pytest.raises(StreamBroke), store.writer(bucket, "w/old.csv") as writer:
        stream = ChunkedStream(20 * MIB, chunk=64 * 1024, fail_after=17 * MIB)
        while chunk := stream.read(64 * 1024):
            writer.write(chunk)
    small = store.writer(bucket, "w/small.csv")
    small.write(b"a,b\n")
    small.abort()
    small.abort()  # a second abort does nothing

    assert read_bytes(store, bucket, "w/old.csv") == b"previous version"
    assert [info.key for info in store.list(bucket)] == ["w/old.csv"]
    store.delete(bucket, "w/old.csv")
    _no_leftovers(store, bucket, request)
