"""What every reader returns: a :class:`BatchStream`, errors as IngestionFailed naming the file.

``BLOCK_BYTES`` is read at call time by the text readers (tests make it small to span many blocks).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.fs as pafs

from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed
from headrace.lakehouse.tables import DEFAULT_BATCH_ROWS
from headrace.storage import ObjectStore, S3Settings

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_BATCH_ROWS",
    "BatchStream",
    "TypesContradicted",
    "prefetched",
    "reading",
    "rechunk",
    "source_filesystem",
]

BLOCK_BYTES = 4 * 1024 * 1024
T = TypeVar("T")


class TypesContradicted(IngestionFailed):
    """A one-pass reader met a value that does not fit the types it inferred from the file's start.

    Raised while iterating, after earlier batches went out with the narrower types, so whatever
    consumed them must be thrown away: the engine discards its staging and reads ``file`` again,
    once more in one pass with ``types`` (the types so far, widened to fit the value that did not)
    when the reader could tell them, else with whole-file inference (two passes), which either
    widens the type or names the bad value.
    """

    def __init__(self, uri: str, reason: str, types: pa.Schema | None = None) -> None:
        super().__init__(f"{uri}: a later value does not fit the inferred types ({reason})", file=uri)
        self.types = types


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


_DONE = object()


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """``items`` produced one ahead in a worker thread, so that parsing the next block overlaps
    writing the last one (pyarrow releases the GIL in both). Memory: at most two items beyond the
    one the caller holds. An error in the worker is raised here, in order; stopping early stops
    the worker after the item it is producing.
    """
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # handed over to the caller's thread
            put((None, exc))

    worker = threading.Thread(target=work, name="headrace-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
