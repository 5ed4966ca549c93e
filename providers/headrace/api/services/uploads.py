"""Uploads: a file checked by name and content, then streamed into object storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from headrace.storage import InvalidObjectName, ObjectStore, join_key, validate_bucket, validate_key
from headrace.storage.filetypes import ALLOWED_EXTENSIONS, FileTypeMismatch, check_content, type_from_name


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


def check_target(bucket: str, path: str) -> None:
    """Validate bucket and path before anything is read or stored."""
    try:
        validate_bucket(bucket)
        if path.rstrip("/"):
            validate_key(path.rstrip("/"), field="path")  # refuses absolute paths, "..", "\\", NUL
    except InvalidObjectName as exc:
        raise UploadRejected(exc.field, exc.message) from exc


def store_file(
    store: ObjectStore, *, bucket: str, path: str, file_name: str, stream: BinaryIO, max_bytes: int
) -> StoredFile:
    """Check one file (name, size, content) and stream it to ``bucket/path/file_name``."""
    file_type = type_from_name(file_name)
    if file_type is None:
        raise UploadRejected(
            "file", f"File type not allowed. Allowed types: {ALLOWED_EXTENSIONS}", "FILE_TYPE"
        )
    try:
        key = join_key(path, validate_key(file_name, field="file"))
    except InvalidObjectName as exc:
        raise UploadRejected("file", f"Invalid file name: {exc.message}") from exc
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
    info = store.put(bucket, key, stream, content_type=file_type.content_type)
    return StoredFile(file_name, bucket, key, info.size, file_type.content_type, store.uri(bucket, key))
