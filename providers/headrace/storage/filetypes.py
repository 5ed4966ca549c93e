"""The five data file types Headrace accepts, recognised by extension *and* by content.

A file is what its bytes say, not what its name claims: Parquet, ORC and Avro carry magic bytes;
JSON and CSV must be decodable UTF-8 text (JSON starting with an object or an array, so JSON lines
and JSON arrays both pass).
"""

from __future__ import annotations

from enum import StrEnum
from typing import BinaryIO

SNIFF_BYTES = 64 * 1024
TAIL_BYTES = 4


class FileType(StrEnum):
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"
    AVRO = "avro"
    ORC = "orc"

    @property
    def extension(self) -> str:
        return f".{self.value}"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]


_CONTENT_TYPES = {
    FileType.JSON: "application/json",
    FileType.CSV: "text/csv",
    FileType.PARQUET: "application/vnd.apache.parquet",
    FileType.AVRO: "application/avro",
    FileType.ORC: "application/vnd.apache.orc",
}
ALLOWED_EXTENSIONS = ", ".join(t.extension for t in FileType)


class FileTypeMismatch(ValueError):
    pass


def type_from_name(filename: str) -> FileType | None:
    """The type a file name claims by its extension (case-insensitive), None when not allowed."""
    _, dot, extension = filename.rpartition(".")
    if not dot:
        return None
    try:
        return FileType(extension.lower())
    except ValueError:
        return None


def check_content(stream: BinaryIO, claimed: FileType) -> None:
    """Raise FileTypeMismatch unless the stream's bytes are of the claimed type; rewinds the stream."""
    start = stream.tell()
    head = stream.read(SNIFF_BYTES)
    ok = head_matches(head, claimed)
    if ok and claimed is FileType.PARQUET:
        stream.seek(-min(TAIL_BYTES, len(head)), 2)
        ok = tail_matches(stream.read(TAIL_BYTES), claimed)
    stream.seek(start)
    if not ok:
        raise mismatch(claimed)


def head_matches(head: bytes, claimed: FileType) -> bool:
    """Whether the first ``SNIFF_BYTES`` (or the whole file, when shorter) fit the claimed type.

    With :func:`tail_matches` this lets a file be checked while it streams: the head decides before
    anything is stored, the tail (Parquet's closing magic) once the last byte has arrived.
    """
    if claimed is FileType.PARQUET:
        return head[:4] == b"PAR1"
    if claimed is FileType.ORC:
        return head[:3] == b"ORC"
    if claimed is FileType.AVRO:
        return head[:4] == b"Obj\x01"
    return _is_text(head) and (
        claimed is FileType.CSV or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
    )


def tail_matches(tail: bytes, claimed: FileType) -> bool:
    """Whether the last ``TAIL_BYTES`` fit the claimed type (only Parquet has a closing magic)."""
    return claimed is not FileType.PARQUET or tail[-4:] == b"PAR1"


def mismatch(claimed: FileType) -> FileTypeMismatch:
    return FileTypeMismatch(f"File content is not {claimed.value.upper()} (checked by content, not by name)")


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True
