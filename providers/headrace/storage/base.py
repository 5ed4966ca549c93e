"""The object-store contract shared by the local-folder and S3 backends.

Callers (upload, ingestion, lakehouse) code against :class:`ObjectStore` only, so that the embedded
mode and a MinIO/S3 deployment behave the same: same bucket names, same key rules, same ``s3://``
URIs, same errors.
"""

from __future__ import annotations

import abc
import mimetypes
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from headrace.storage.paths import ObjectPath, s3_location, validate_bucket, validate_key

_ENCODING_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}
# The data formats Headrace stores, which the system's mimetypes tables miss or get wrong (.orc is
# "audio/csound" on Debian).
_DATA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".avro": "application/avro",
    ".orc": "application/vnd.apache.orc",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object; ``last_modified`` is timezone-aware UTC."""

    bucket: str
    key: str
    size: int
    last_modified: datetime
    content_type: str | None = None


class ObjectNotFound(LookupError):
    """The bucket exists but holds no object under that key."""

    def __init__(self, bucket: str, key: str):
        super().__init__(f"object s3://{bucket}/{key} not found")
        self.bucket = bucket
        self.key = key


class BucketNotFound(LookupError):
    """The bucket does not exist; buckets are created explicitly, never as a side effect."""

    def __init__(self, bucket: str):
        super().__init__(f"bucket {bucket!r} not found")
        self.bucket = bucket


def guess_content_type(key: str) -> str | None:
    """The media type implied by a key's extension (compressed files are reported as the archive)."""
    name = key.rpartition("/")[2]
    if known := _DATA_TYPES.get(PurePosixPath(name).suffix.lower()):
        return known
    # "./" keeps a name such as "data:x.csv" from being read as a URL scheme.
    mime, encoding = mimetypes.guess_type("./" + name, strict=False)
    if encoding:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    return mime


class ObjectWriter(abc.ABC):
    """An object written piece by piece while its bytes still arrive (e.g. an upload's body).

    Nothing is visible under the key before :meth:`commit`; :meth:`abort` (also on leaving the
    ``with`` block by an exception) leaves no object and nothing half-written behind: no temp file in
    the local store, no multipart upload or parts on S3. Not thread-safe: one writer per producer.
    """

    size: int = 0  # bytes written so far

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Append ``data``; may block while earlier parts are still being sent (back-pressure)."""

    @abc.abstractmethod
    def commit(self) -> ObjectInfo:
        """Publish the object under its key, atomically, replacing any object there."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Discard everything written; calling it again, or after a commit, does nothing."""

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()


class ObjectStore(abc.ABC):
    """Buckets of objects addressed by validated keys.

    Every operation but :meth:`create_bucket` and :meth:`bucket_exists` raises
    :class:`BucketNotFound` when the bucket is missing, and every name is validated with
    :mod:`headrace.storage.paths` before it reaches the backend.
    """

    kind: str

    @abc.abstractmethod
    def create_bucket(self, bucket: str) -> None:
        """Create the bucket; creating an existing bucket is not an error."""

    @abc.abstractmethod
    def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists."""

    @abc.abstractmethod
    def put(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str | None = None) -> ObjectInfo:
        """Store the stream's bytes under ``key``, reading it in chunks; the object appears atomically."""

    @abc.abstractmethod
    def writer(self, bucket: str, key: str, *, content_type: str | None = None) -> ObjectWriter:
        """An :class:`ObjectWriter` for ``key``, for bytes that arrive in pieces (the bucket must exist)."""

    @abc.abstractmethod
    def open(self, bucket: str, key: str) -> AbstractContextManager[BinaryIO]:
        """A binary stream over the object (use it as a context manager); raises ObjectNotFound."""

    @abc.abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's info, or None when there is no object under ``key``."""

    def has_object(self, bucket: str, key: str) -> bool:
        """Whether an object exists under ``key`` (e.g. to tell a caller that a put replaces it)."""
        return self.head(bucket, key) is not None

    @abc.abstractmethod
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix), sorted by key."""

    @abc.abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    @abc.abstractmethod
    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; returns how many were deleted."""

    def uri(self, bucket: str, key: str) -> str:
        """``s3://bucket/key`` in both modes: buckets are Headrace's namespace, not the backend's."""
        validate_bucket(bucket)
        if key:
            validate_key(key)
        return str(ObjectPath(bucket, key))

    def local_path(self, bucket: str, key: str) -> Path | None:
        """The file behind the object when the store is a local folder, else None."""
        return None

    def lies_in(self, location: str, bucket: str, key: str = "") -> bool:
        """Whether the object ``bucket/key`` (the whole bucket when ``key`` is empty) is at or below
        ``location``; bucket and key must be valid (see :mod:`headrace.storage.reserved`).

        ``s3://bucket/prefix`` is compared by name in every store: the key is the prefix itself or
        starts with ``prefix/``, and a bucket lies in a location only when the prefix is empty.
        """
        target = s3_location(location)
        if target is None or target[0] != bucket:
            return False
        prefix = target[1]
        if not prefix:
            return True
        return bool(key) and (key == prefix or key.startswith(prefix + "/"))
