"""Uploads: a file checked by name and content, then streamed into object storage.

Uploads never reach table data: the lakehouse's warehouse, catalogs and staging folders are reserved
(:meth:`headrace.lakehouse.service.Lakehouse.reserved_locations`, matched by the store:
:func:`headrace.storage.find_reserved`). Anywhere else an upload replaces an existing object of the
same key, as S3 does, and says so (``replaced``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from headrace import config
from headrace.lakehouse.service import lakehouse_locations
from headrace.storage import (
    InvalidObjectName,
    ObjectStore,
    ReservedLocation,
    ReservedTarget,
    find_reserved,
    join_key,
    validate_bucket,
    validate_key,
    validate_segments,
)
from headrace.storage.filetypes import ALLOWED_EXTENSIONS, FileTypeMismatch, check_content, type_from_name

RESERVED_CODE = "RESERVED_LOCATION"


class UploadRejected(Exception):
    def __init__(self, field: str, message: str, code: str = "VALIDATION_ERROR", *, too_large: bool = False):
        super().__init__(message)
        self.field, self.message, self.code, self.too_large = field, message, code, too_large


@dataclass(frozen=True)
class StoredFile:
    file_name: str
    bucket: str
    key: str
    size: int
    content_type: str
    uri: str
    replaced: bool  # an object of the same key existed and was replaced


def reserved_locations() -> list[ReservedLocation]:
    """The locations of the deployment's lakehouse (``[headrace] warehouse``, every catalog, their
    staging folders), read for each request so that a catalog created a moment ago is included.

    The same settings as the API's lakehouse (``LakehouseHook()``: ``catalog_uri`` and ``warehouse``
    of ``[headrace]``), read without resolving S3 credentials, which uploads do not need for this."""
    return lakehouse_locations(config.catalog_uri(), config.warehouse())


def _refusal(target: ReservedTarget, bucket: str, key: str) -> UploadRejected:
    reason = target.location.reason
    if target.field == "bucket":
        message = f"Bucket '{bucket}' is {reason}: upload to another bucket"
    elif target.field == "path":
        message = f"Path '{key}' in bucket '{bucket}' is {reason}: upload to another path"
    else:
        message = f"'{key}' in bucket '{bucket}' is {reason}: upload under another name or path"
    return UploadRejected(target.field, message, RESERVED_CODE)


def check_target(
    store: ObjectStore, bucket: str, path: str, reserved: Sequence[ReservedLocation] = ()
) -> None:
    """Validate bucket and path, and refuse reserved ones, before anything is read or stored."""
    path = path.rstrip("/")
    try:
        validate_bucket(bucket)
        if path:
            validate_key(path, field="path")  # refuses absolute paths, "..", "\\", NUL
            validate_segments(path, field="path")
    except InvalidObjectName as exc:
        raise UploadRejected(exc.field, exc.message) from exc
    if target := find_reserved(store, bucket, path, reserved):
        raise _refusal(target, bucket, path)


def store_file(
    store: ObjectStore,
    *,
    bucket: str,
    path: str,
    file_name: str,
    stream: BinaryIO,
    max_bytes: int,
    reserved: Sequence[ReservedLocation] = (),
) -> StoredFile:
    """Check one file (name, target, size, content) and stream it to ``bucket/path/file_name``."""
    file_type = type_from_name(file_name)
    if file_type is None:
        raise UploadRejected(
            "file", f"File type not allowed. Allowed types: {ALLOWED_EXTENSIONS}", "FILE_TYPE"
        )
    try:
        key = join_key(path, validate_segments(validate_key(file_name, field="file"), field="file"))
    except InvalidObjectName as exc:
        raise UploadRejected("file", f"Invalid file name: {exc.message}") from exc
    # The target was checked without the file name; a name with '/' in it can still lead elsewhere.
    if target := find_reserved(store, bucket, key, reserved, key_field="file"):
        raise _refusal(target, bucket, key)
    size = stream.seek(0, 2)
    stream.seek(0)
    if size > max_bytes:
        raise UploadRejected(
            "file",
            f"File too large: {size} bytes, the limit is {max_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
            too_large=True,
        )
    try:
        check_content(stream, file_type)
    except FileTypeMismatch as exc:
        raise UploadRejected("file", str(exc), "FILE_CONTENT") from exc
    store.create_bucket(bucket)
    try:
        replaced = store.has_object(bucket, key)
        info = store.put(bucket, key, stream, content_type=file_type.content_type)
    except InvalidObjectName as exc:  # e.g. the key is a folder of other objects in the local store
        raise UploadRejected("file", f"Cannot store the file: {exc.message}") from exc
    return StoredFile(
        file_name, bucket, key, info.size, file_type.content_type, store.uri(bucket, key), replaced
    )
