"""Streaming readers: one source file as Arrow record batches of at most ``batch_rows`` rows.

Every reader has a fixed schema known before the first batch, so staging can check it against the
table before writing anything. How each type gets there, and what stays in memory:

* Parquet: the footer's schema; one row group at a time (``ParquetFile.iter_batches``).
* ORC: the footer's schema; one stripe at a time.
* Avro: the header's schema mapped to Arrow (unions other than ``[null, T]`` are refused);
  ``batch_rows`` decoded records at a time.
* CSV and JSON carry no types, and pyarrow's streaming readers infer them from the first block only,
  failing when a later block differs (a column empty at first, a float after many integers).
  ``one_pass=True`` (what the Arrow engine asks for) reads once: the first block's types, every
  block converted with them while reading, and :class:`TypesContradicted` raised mid-stream when a
  later block does not fit, carrying the types widened to fit it when the reader can tell (JSON:
  merged with that block's own; CSV: the failing column widened); the engine then discards what it
  staged and reads the file again, once more in one pass with those types (``types``) or the
  two-pass way. Both parse the next block in a worker thread while the last one is written (CSV
  with pyarrow's reader on that one thread). The default (two passes) infers the types over the
  whole file, then converts with them, so its schema is final before the first batch. Memory is a
  few blocks (4 MiB; one pass: the blocks parsed ahead too) plus the longest line either way, CSV
  included: its file is read at most two blocks ahead of the parser (pyarrow alone reads up to 32).
  - CSV: pass one parses every column as text and keeps, per column, the first of int64, double,
    boolean (true/false), date, timestamp, timestamp with zone that every value casts to, else
    string (a column without a single value is null-typed, see lakehouse.tables.schema); pass two
    casts with the same function, so conversion cannot disagree with inference.
    Without a header, columns are named ``f0, f1, ...`` (pyarrow's names).
  - JSON: JSON lines (one object per line; a file holding one pretty-printed object also works), or
    one top-level array of objects, parsed element by element with ``json.JSONDecoder.raw_decode``
    (memory: one element, so an array that is a single huge object is held whole). Nested objects
    stay structs; a field that is a number in one place and text in another is refused.

Any failure is an :class:`IngestionFailed` naming the file. Files are opened through a pyarrow
filesystem: the local store's own file, or S3 with ``S3Settings.pyarrow_filesystem()``.

One module per format family: :mod:`.columnar` (Parquet, ORC), :mod:`.avro`, :mod:`.csv_reader`,
:mod:`.json_reader`; :mod:`.stream` holds what they share.
"""

from __future__ import annotations

import codecs
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from headrace.ingestion.readers.avro import avro_batches
from headrace.ingestion.readers.columnar import orc_batches, parquet_batches
from headrace.ingestion.readers.csv_reader import csv_batches, csv_batches_once
from headrace.ingestion.readers.json_reader import json_batches, json_batches_once, merge_json_schemas
from headrace.ingestion.readers.stream import (
    BLOCK_BYTES,
    DEFAULT_BATCH_ROWS,
    BatchStream,
    TypesContradicted,
    reading,
    source_filesystem,
)
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import CsvProperties
from headrace.storage.filetypes import FileType, FileTypeMismatch, check_content

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_BATCH_ROWS",
    "BatchStream",
    "TypesContradicted",
    "merge_json_schemas",
    "open_batches",
    "reading",
    "source_filesystem",
]

_OPENERS = {
    FileType.PARQUET: parquet_batches,
    FileType.ORC: orc_batches,
    FileType.AVRO: avro_batches,
    FileType.CSV: csv_batches,
    FileType.JSON: json_batches,
}
_ONE_PASS = {FileType.CSV: csv_batches_once, FileType.JSON: json_batches_once}


def open_batches(
    fs: pafs.FileSystem,
    path: str,
    file_type: FileType,
    *,
    uri: str,
    csv: CsvProperties | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    one_pass: bool = False,
    types: pa.Schema | None = None,
) -> BatchStream:
    """The file's batches; its content must be of ``file_type`` (checked by magic bytes / text).

    ``one_pass``: CSV and JSON are read once with the types of their first block (or ``types``,
    a TypesContradicted's widened types), and iterating raises TypesContradicted when a later block
    does not fit them (see the module docstring).
    """
    csv = csv or CsvProperties()
    with reading(uri):
        with fs.open_input_file(path) as handle:
            try:
                _check_content(handle, file_type, csv.encoding)
            except FileTypeMismatch as exc:
                raise IngestionFailed(f"{uri}: {exc}", file=uri) from None
        if one_pass and file_type in _ONE_PASS:
            schema, batches = _ONE_PASS[file_type](fs, path, csv, batch_rows, uri, types)
        else:
            schema, batches = _OPENERS[file_type](fs, path, csv, batch_rows)
        return BatchStream(uri, schema, batches)


def _check_content(handle: Any, file_type: FileType, encoding: str) -> None:
    """Magic bytes, or text; CSV in another encoding than UTF-8 must decode in that encoding."""
    if file_type is not FileType.CSV or codecs.lookup(encoding).name == "utf-8":
        check_content(handle, file_type)
        return
    head = handle.read(64 * 1024)
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        raise FileTypeMismatch(f"File content is not CSV in {encoding}") from None
    if not head:
        raise FileTypeMismatch("File content is not CSV (the file is empty)")
