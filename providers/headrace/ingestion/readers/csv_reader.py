"""CSV, read twice: pass one infers each column's type over the whole file, pass two converts.

pyarrow's streaming reader infers types from the first block only and fails when a later block
differs, so when its inference does not hold for every block, pass one parses every column as text
and keeps, per column, the first of int64, double, boolean, date, timestamp, timestamp with zone that
every value casts to, else string (a column without a single value is null-typed); pass two casts
with the same function, so conversion cannot disagree with inference. Without a header, columns are
named ``f0, f1, ...`` (pyarrow's names). Memory: one block plus the longest line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from headrace.ingestion.readers import stream as shared
from headrace.ingestion.readers.stream import rechunk
from headrace.ingestion.spec import CsvProperties

_CSV_CANDIDATES = [
    pa.int64(),
    pa.float64(),
    pa.bool_(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
]


def csv_batches(
    fs: pafs.FileSystem, path: str, props: CsvProperties, batch_rows: int
) -> tuple[pa.Schema, Any]:
    probe = _open_csv(fs, path, props, None)
    names = probe.schema.names
    probe.close()
    if len(set(names)) != len(names) or any(not name for name in names):
        raise ValueError(f"the CSV header has empty or repeated column names: {names}")
    inferred = _natively_inferred(fs, path, props)
    if inferred is not None:
        # pyarrow's own inference held for every block: read again with those types, all in C++.
        return inferred, rechunk(_open_csv(fs, path, props, None, column_types=inferred), batch_rows)
    candidates = {name: list(_CSV_CANDIDATES) for name in names}
    valued: set[str] = set()  # columns with a value; an all-empty one has no type (null, like JSON)
    for batch in _open_csv(fs, path, props, names):
        for name, column in zip(names, batch.columns, strict=True):
            if column.null_count < len(column):
                valued.add(name)
                candidates[name] = [t for t in candidates[name] if _casts(column, t)]
    schema = pa.schema(
        [(name, _csv_type(candidates[name]) if name in valued else pa.null()) for name in names]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in _open_csv(fs, path, props, names):
            columns = [
                pa.nulls(len(column)) if pa.types.is_null(field.type) else column.cast(field.type)
                for column, field in zip(batch.columns, schema, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return schema, rechunk(batches(), batch_rows)


def _natively_inferred(fs: pafs.FileSystem, path: str, props: CsvProperties) -> pa.Schema | None:
    """The schema pyarrow infers from the first block, if every later block fits it; else None.

    Scanning with native types is several times faster than trying casts column by column, so the
    careful per-column inference below only runs for files whose types change between blocks.
    """
    try:
        reader = _open_csv(fs, path, props, None)
        schema = reader.schema
        for _ in reader:
            pass
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if any(pa.types.is_null(field.type) for field in schema):
        return None  # empty in the first block: the careful path decides
    return schema


def _csv_type(candidates: list[pa.DataType]) -> pa.DataType:
    return candidates[0] if candidates else pa.string()


def _open_csv(
    fs: pafs.FileSystem,
    path: str,
    props: CsvProperties,
    text_columns: list[str] | None,
    *,
    column_types: pa.Schema | None = None,
) -> pacsv.CSVStreamingReader:
    """A CSV reader with the job's dialect; ``text_columns`` read as strings, ``column_types`` as
    given (else pyarrow infers)."""
    read = pacsv.ReadOptions(
        block_size=shared.BLOCK_BYTES, encoding=props.encoding, autogenerate_column_names=not props.header
    )
    parse = pacsv.ParseOptions(
        delimiter=props.field_delimiter,
        quote_char=props.quote_character,
        escape_char=props.escape_character or False,
        newlines_in_values=True,
    )
    convert = pacsv.ConvertOptions(
        null_values=[props.null_value],
        strings_can_be_null=True,
        column_types=(
            {name: pa.string() for name in text_columns}
            if text_columns
            else {f.name: f.type for f in column_types}
            if column_types is not None
            else None
        ),
    )
    return pacsv.open_csv(fs.open_input_stream(path), read, parse, convert)


def _casts(column: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
