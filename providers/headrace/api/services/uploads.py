"""Uploads: a file checked by name and content while it streams into object storage.

A :class:`ReceivedFile` takes the file's bytes as they arrive (from the request body, see
api/routes/upload.py): the name is checked first, the content type from the first ``SNIFF_BYTES``,
then the bytes go on to an :class:`~headrace.storage.ObjectWriter` (a multipart upload on S3, a
temp file beside the target locally) while the rest still arrives. Nothing is visible under the key
until :meth:`ReceivedFile.publish`; a file that fails a check later (over the size limit, a Parquet
file without its closing magic) or is never published is aborted, leaving no object and no parts.

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
    ObjectWriter,
    ReservedLocation,
    ReservedTarget,
    find_reserved,
    join_key,
    validate_bucket,
    validate_key,
    validate_segments,
)
from headrace.storage.filetypes import (
    ALLOWED_EXTENSIONS,
    SNIFF_BYTES,
    TAIL_BYTES,
    FileType,
    head_matches,
    mismatch,
    tail_matches,
    type_from_name,
)

RESERVED_CODE = "RESERVED_LOCATION"
_READ_CHUNK = 1024 * 1024


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


def _name_checked(
    store: ObjectStore, bucket: str, path: str, file_name: str, reserved: Sequence[ReservedLocation]
) -> tuple[FileType, str]:
    """The type the file's name claims and its key, or UploadRejected (type, name, reserved key)."""
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
    return file_type, key


class ReceivedFile:
    """One file of an upload, checked and written while its bytes arrive.

    Call :meth:`write` with each piece, :meth:`finish` after the last one, then :meth:`publish`
    (which raises the file's :class:`UploadRejected`, if any) or :meth:`discard`. The checks and
    their order are those of the contract: name, reserved key, size limit (which wins over a bad
    content, as when the size was known first), content.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        bucket: str,
        path: str,
        file_name: str,
        max_bytes: int,
        reserved: Sequence[ReservedLocation] = (),
    ):
        self.store, self.bucket, self.path, self.file_name = store, bucket, path, file_name
        self.max_bytes = max_bytes
        self.size = 0
        self.rejection: UploadRejected | None = None
        self._head = bytearray()
        self._tail = b""
        self._content_ok = True
        self._writer: ObjectWriter | None = None
        self._replaced = False
        self._finished = False
        try:
            self._type, self.key = _name_checked(store, bucket, path, file_name, reserved)
        except UploadRejected as exc:
            self.rejection = exc

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.rejection is not None or not self._content_ok:
            return  # only counted: the size decides which rejection the answer names
        if self.size > self.max_bytes:
            self._discard_writer()
            return
        self._tail = data[-TAIL_BYTES:] if len(data) >= TAIL_BYTES else (self._tail + data)[-TAIL_BYTES:]
        if self._writer is not None:
            self._writer.write(data)
            return
        self._head += data
        if len(self._head) >= SNIFF_BYTES:
            self._start()

    def _start(self) -> None:
        """Check the head; if it fits, open the writer (creating the bucket) and hand it the head."""
        head, self._head = bytes(self._head), bytearray()
        if not head_matches(head[:SNIFF_BYTES], self._type):
            self._content_ok = False
            return
        self.store.create_bucket(self.bucket)
        try:
            self._replaced = self.store.has_object(self.bucket, self.key)
            self._writer = self.store.writer(self.bucket, self.key, content_type=self._type.content_type)
        except InvalidObjectName as exc:  # e.g. a parent of the key is an object in the local store
            self.rejection = UploadRejected("file", f"Cannot store the file: {exc.message}")
            return
        self._writer.write(head)

    def finish(self) -> None:
        """The last byte has arrived: decide the size limit and the tail check."""
        self._finished = True
        if self.rejection is not None:
            return
        if self.size > self.max_bytes:
            self._discard_writer()
            self.rejection = UploadRejected(
                "file",
                f"File too large: {self.size} bytes, the limit is {self.max_bytes} bytes",
                "PAYLOAD_TOO_LARGE",
                too_large=True,
            )
            return
        if self._writer is None and self._content_ok:
            self._start()  # a file shorter than SNIFF_BYTES
        if self._content_ok and not tail_matches(self._tail, self._type):
            self._content_ok = False
        if not self._content_ok:
            self._discard_writer()
            self.rejection = UploadRejected("file", str(mismatch(self._type)), "FILE_CONTENT")

    def publish(self) -> StoredFile:
        """Make the object visible under its key (atomically), or raise the file's rejection."""
        if not self._finished:
            raise RuntimeError("publish() before finish()")
        if self.rejection is not None:
            raise self.rejection
        assert self._writer is not None
        try:
            info = self._writer.commit()
        except InvalidObjectName as exc:  # e.g. the key is a folder of other objects in the local store
            raise UploadRejected("file", f"Cannot store the file: {exc.message}") from exc
        finally:
            self._writer = None
        return StoredFile(
            self.file_name,
            self.bucket,
            self.key,
            info.size,
            self._type.content_type,
            self.store.uri(self.bucket, self.key),
            self._replaced,
        )

    def discard(self) -> None:
        """Abort whatever was written (no object, no parts, no temp file); safe to call repeatedly."""
        self._discard_writer()

    def _discard_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()


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
    received = ReceivedFile(
        store, bucket=bucket, path=path, file_name=file_name, max_bytes=max_bytes, reserved=reserved
    )
    try:
        if received.rejection is None:
            while chunk := stream.read(_READ_CHUNK):
                received.write(chunk)
        received.finish()
        return received.publish()
    finally:
        received.discard()
