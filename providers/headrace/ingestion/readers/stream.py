"""What every reader returns: a :class:`BatchStream`, errors as IngestionFailed naming the file.

``BLOCK_BYTES`` is read at call time by the text readers (tests make it small to span many blocks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed
from headrace.lakehouse.tables import DEFAULT_BATCH_ROWS
from headrace.storage import ObjectStore, S3Settings

__all__ = ["BLOCK_BYTES", "DEFAULT_BATCH_ROWS", "BatchStream", "reading", "rechunk", "source_filesystem"]

BLOCK_BYTES = 4 * 1024 * 1024


@dataclass
class BatchStream:
    """A file's batches under one schema; iterating re-raises any error as IngestionFailed."""

    uri: str
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        with reading(self.uri):
            yield from self.batches


@contextmanager
def reading(uri: str) -> Iterator[None]:
    """Turn any error while reading ``uri`` into IngestionFailed naming it."""
    try:
        yield
    except IngestionFailed:
        raise
    except Exception as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise IngestionFailed(f"Cannot read {uri}: {reason}", file=uri) from exc


def source_filesystem(
    file: ResolvedFile, store: ObjectStore, s3: S3Settings | None
) -> tuple[pafs.FileSystem, str]:
    """Where pyarrow opens a source: the local store's file, or the object through S3."""
    local = store.local_path(file.bucket, file.key)
    if local is not None:
        return pafs.LocalFileSystem(), str(local)
    if s3 is None:
        raise IngestionFailed(f"Reading {file.uri} needs S3 settings (a storage connection)", file=file.uri)
    return s3.pyarrow_filesystem(), f"{file.bucket}/{file.key}"


def rechunk(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Slices of at most ``batch_rows`` rows (readers that produce blocks or stripes)."""
    for batch in batches:
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)
