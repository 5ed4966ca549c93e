"""CSV in one pass (the engine's way) or two (whole-file inference, the fallback).

One pass (:func:`csv_batches_once`): pyarrow's streaming reader infers each column's type from the
first block and converts every later block with those types, all in C++; a later value that does not
convert (a float after many integers, text in a date column) raises :class:`TypesContradicted`
carrying the types with that column widened to the first type after its own that every earlier
value and the failing one convert to (integer -> double, date -> timestamp, else text), and the
engine reads the file once more with them (or the careful way, when the error names no value). A
column empty in the first block has no type yet, so such files go the careful way at once.
The next block parses in a worker thread while the caller writes the last one (at most two blocks
ahead).

Two passes (:func:`csv_batches`): when pyarrow's inference holds for every block, its types; else pass
one parses every column as text and keeps, per column, the first of int64, double, boolean, date,
timestamp, timestamp with zone that every value casts to, else string (a column without a single
value is null-typed); pass two casts with the same function, so conversion cannot disagree with
inference. Without a header, columns are named ``f0, f1, ...`` (pyarrow's names). Memory: a few
blocks plus the longest line, either way: pyarrow's reader reads the file up to 32 blocks ahead of
its parser in a background thread, so the file reaches it through :class:`_PacedSource`, at most
two blocks ahead (measured for the one pass with 4 MiB blocks: 66 MB at peak for a 30 MB and for a
124 MB file; without it 73 MB for the 30 MB file).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from headrace.ingestion.readers import stream as shared
from headrace.ingestion.readers.stream import TypesContradicted, prefetched, rechunk
from headrace.ingestion.spec import CsvProperties

_CSV_CANDIDATES = [
    pa.int64(),
    pa.float64(),
    pa.bool_(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
]


def csv_batches_once(
    fs: pafs.FileSystem,
    path: str,
    props: CsvProperties,
    batch_rows: int,
    uri: str,
    types: pa.Schema | None = None,
) -> tuple[pa.Schema, Any]:
    """One read: the first block's types (or ``types``), or TypesContradicted (while iterating)
    when a later block does not convert to them; a column without a value in the first block:
    two passes."""
    try:
        reader = _open_csv(fs, path, props, None, column_types=types, use_threads=ONE_PASS_THREADS)
    except pa.ArrowInvalid as exc:  # ``types`` do not fit the first block
        raise _contradicted(uri, exc, types) from exc
    _check_names(reader.schema.names)
    if any(pa.types.is_null(field.type) for field in reader.schema):
        reader.close()
        return csv_batches(fs, path, props, batch_rows)
    schema = reader.schema

    def parsed() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except pa.ArrowInvalid as exc:
            raise _contradicted(uri, exc, schema) from exc
        finally:
            reader.close()

    # The next block parses in a worker thread while the caller writes this one (both release the GIL).
    batches = prefetched(parsed()) if ONE_PASS_PREFETCH else parsed()
    return schema, rechunk(batches, batch_rows)


# One pass: pyarrow's reader on one thread, and the parse of the next block overlapping the write of
# this one, measured faster than pyarrow's own threads on 2 cores (see benchmarks/README.md).
ONE_PASS_THREADS = False
ONE_PASS_PREFETCH = True

# What a column of one type may widen to when a later value does not convert: types every earlier
# value also converts to, in the order of the two-pass inference (string takes anything).
_WIDER = {
    pa.int64(): [pa.float64()],
    pa.date32(): [pa.timestamp("us"), pa.timestamp("us", tz="UTC")],
}
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to [^:]+: invalid value '(.*)'$"
)


def _contradicted(uri: str, exc: pa.ArrowInvalid, schema: pa.Schema | None) -> Exception:
    """TypesContradicted for a value that did not convert, with the column widened to fit it;
    any other error (a malformed row) as it is: the two-pass read would raise it too."""
    message = str(exc).strip()
    if "conversion error" not in message:
        return exc
    match = _CONVERSION.match(message.splitlines()[0])
    if schema is None or match is None or int(match.group(1)) >= len(schema):
        return TypesContradicted(uri, message.splitlines()[0])
    index, value = int(match.group(1)), pa.array([match.group(2)])
    field = schema.field(index)
    wider = next((t for t in _WIDER.get(field.type, []) if _casts(value, t)), pa.string())
    return TypesContradicted(uri, message.splitlines()[0], schema.set(index, field.with_type(wider)))


def _check_names(names: list[str]) -> None:
    if len(set(names)) != len(names) or any(not name for name in names):
        raise ValueError(f"the CSV header has empty or repeated column names: {names}")


def csv_batches(
    fs: pafs.FileSystem, path: str, props: CsvProperties, batch_rows: int
) -> tuple[pa.Schema, Any]:
    probe = _open_csv(fs, path, props, None)
    names = probe.schema.names
    probe.close()
    _check_names(names)
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


class _PacedSource:
    """The file as the CSV reader's background thread reads it: at most ``AHEAD`` blocks beyond the
    batches asked for (:meth:`ask`), so that memory stays a few blocks whatever the file's size.

    pyarrow's streaming reader reads blocks in a background thread up to 32 ahead of the parser
    (measured: a 30 MB file read whole, 2.4x its size at peak), wanting only block ``k + 1`` to
    finish batch ``k`` (the end of its last line); so reads wait until ``asked + AHEAD``, one more
    than that needs, and never longer than ``WAIT_SECONDS`` (a safety valve: it costs memory, not
    a deadlock, should a pyarrow version read differently). :meth:`release` ends the waiting.
    """

    AHEAD = 2
    WAIT_SECONDS = 5.0

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._reads = 0
        self._asked = 1  # opening the reader parses the first block
        self._released = False
        self._turn = threading.Condition()

    def ask(self) -> None:
        """The caller is about to take the next batch."""
        with self._turn:
            self._asked += 1
            self._turn.notify_all()

    def release(self) -> None:
        with self._turn:
            self._released = True
            self._turn.notify_all()

    def read(self, nbytes: int = -1) -> Any:
        with self._turn:
            self._turn.wait_for(
                lambda: self._released or self._reads < self._asked + self.AHEAD, self.WAIT_SECONDS
            )
            self._reads += 1
        return self._raw.read_buffer(nbytes if nbytes >= 0 else None)

    # What pa.PythonFile asks of a readable stream
    @property
    def closed(self) -> bool:
        return self._raw.closed

    def close(self) -> None:
        self.release()
        self._raw.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._raw.tell()


class _CsvReader:
    """pyarrow's streaming CSV reader on a :class:`_PacedSource`: iterating asks for each batch;
    closing, finishing or dropping it releases the source."""

    def __init__(self, reader: pacsv.CSVStreamingReader, source: _PacedSource) -> None:
        self._reader = reader
        self._source = source
        self.schema = reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                self._source.ask()
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        self._source.release()
        self._reader.close()

    def __del__(self) -> None:
        self._source.release()


def _open_csv(
    fs: pafs.FileSystem,
    path: str,
    props: CsvProperties,
    text_columns: list[str] | None,
    *,
    column_types: pa.Schema | None = None,
    use_threads: bool = True,
) -> _CsvReader:
    """A CSV reader with the job's dialect; ``text_columns`` read as strings, ``column_types`` as
    given (else pyarrow infers); it reads a few blocks ahead of its caller (:class:`_PacedSource`)."""
    read = pacsv.ReadOptions(
        block_size=shared.BLOCK_BYTES,
        encoding=props.encoding,
        autogenerate_column_names=not props.header,
        use_threads=use_threads,
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
    source = _PacedSource(fs.open_input_stream(path))
    try:
        return _CsvReader(pacsv.open_csv(pa.PythonFile(source, mode="r"), read, parse, convert), source)
    except BaseException:
        source.close()
        raise


def _casts(column: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
