"""Streaming readers: one source file as Arrow record batches of at most ``batch_rows`` rows.

Every reader has a fixed schema known before the first batch, so staging can check it against the
table before writing anything. How each type gets there, and what stays in memory:

* Parquet: the footer's schema; one row group at a time (``ParquetFile.iter_batches``).
* ORC: the footer's schema; one stripe at a time.
* Avro: the header's schema mapped to Arrow (unions other than ``[null, T]`` are refused);
  ``batch_rows`` decoded records at a time.
* CSV and JSON carry no types, and pyarrow's streaming readers infer them from the first block only,
  failing when a later block differs (a column empty at first, a float after many integers). So both
  are read twice: pass one infers the types over the whole file, pass two converts with them. Memory
  is one block (4 MiB) plus the longest line.
  - CSV: pass one parses every column as text and keeps, per column, the first of int64, double,
    boolean (true/false), date, timestamp, timestamp with zone that every value casts to, else
    string (a column without a single value is null-typed, see commit.schema); pass two casts with
    the same function, so conversion cannot disagree with inference.
    Without a header, columns are named ``f0, f1, ...`` (pyarrow's names).
  - JSON: JSON lines (one object per line; a file holding one pretty-printed object also works), or
    one top-level array of objects, parsed element by element with ``json.JSONDecoder.raw_decode``
    (memory: one element, so an array that is a single huge object is held whole). Nested objects
    stay structs; a field that is a number in one place and text in another is refused.

Any failure is an :class:`IngestionFailed` naming the file. Files are opened through a pyarrow
filesystem: the local store's own file, or S3 with ``S3Settings.pyarrow_filesystem()``.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.orc as paorc
import pyarrow.parquet as pq

from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import CsvProperties
from headrace.storage import ObjectStore, S3Settings
from headrace.storage.filetypes import FileType, FileTypeMismatch, check_content

BLOCK_BYTES = 4 * 1024 * 1024
DEFAULT_BATCH_ROWS = 65536


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


def open_batches(
    fs: pafs.FileSystem,
    path: str,
    file_type: FileType,
    *,
    uri: str,
    csv: CsvProperties | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> BatchStream:
    """The file's batches; its content must be of ``file_type`` (checked by magic bytes / text)."""
    csv = csv or CsvProperties()
    with reading(uri):
        with fs.open_input_file(path) as handle:
            try:
                _check_content(handle, file_type, csv.encoding)
            except FileTypeMismatch as exc:
                raise IngestionFailed(f"{uri}: {exc}", file=uri) from None
        opener = _OPENERS[file_type]
        schema, batches = opener(fs, path, csv, batch_rows)
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


# -- columnar and binary formats -------------------------------------------------------------------


def _parquet(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    parquet = pq.ParquetFile(fs.open_input_file(path))
    return parquet.schema_arrow, parquet.iter_batches(batch_size=batch_rows)


def _orc(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    orc = paorc.ORCFile(fs.open_input_file(path))

    def stripes() -> Iterator[pa.RecordBatch]:
        for index in range(orc.nstripes):
            yield orc.read_stripe(index)

    return orc.schema, _rechunk(stripes(), batch_rows)


def _avro(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    stream = fs.open_input_stream(path)
    reader = fastavro.reader(stream)
    names: dict[str, Any] = {}
    writer_schema = reader.writer_schema
    if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
        raise ValueError("the Avro schema must be a record")
    struct, fix = _avro_type(writer_schema, names)
    schema = pa.schema(list(struct))

    def batches() -> Iterator[pa.RecordBatch]:
        rows: list[dict[str, Any]] = []
        for record in reader:
            rows.append(fix(record) if fix else record)
            if len(rows) == batch_rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
        stream.close()

    return schema, batches()


_AVRO_PRIMITIVES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_AVRO_LOGICAL = {
    "date": pa.date32(),
    "time-millis": pa.time32("ms"),
    "time-micros": pa.time64("us"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "timestamp-nanos": pa.timestamp("ns", tz="UTC"),
    "local-timestamp-millis": pa.timestamp("ms"),
    "local-timestamp-micros": pa.timestamp("us"),
    "local-timestamp-nanos": pa.timestamp("ns"),
    "uuid": pa.string(),
}
Fix = Callable[[Any], Any] | None


def _avro_type(schema: Any, names: dict[str, Any]) -> tuple[pa.DataType, Fix]:
    """The Arrow type of an Avro schema, and a converter for values fastavro returns differently.

    (Only UUIDs need one: fastavro returns ``uuid.UUID`` objects, stored as text.)
    """
    if isinstance(schema, str):
        if schema in _AVRO_PRIMITIVES:
            return _AVRO_PRIMITIVES[schema], None
        if schema == "null":
            return pa.null(), None
        if schema in names:
            return names[schema]
        raise ValueError(f"unsupported Avro type {schema!r} (recursive types are not supported)")
    if isinstance(schema, list):
        branches = [s for s in schema if s != "null"]
        if len(branches) != 1:
            raise ValueError(f"unsupported Avro union {json.dumps(schema)} (only [null, T] is supported)")
        return _avro_type(branches[0], names)
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if logical == "decimal":
        return pa.decimal128(schema["precision"], schema.get("scale", 0)), None
    if logical in _AVRO_LOGICAL and not isinstance(kind, dict):
        return _AVRO_LOGICAL[logical], (_uuid_text if logical == "uuid" else None)
    if kind == "record":
        fields, fixes = [], {}
        placeholder_name = schema.get("name")
        for field in schema["fields"]:
            field_type, fix = _avro_type(field["type"], names)
            fields.append(pa.field(field["name"], field_type))
            if fix:
                fixes[field["name"]] = fix
        result = (pa.struct(fields), _record_fix(fixes) if fixes else None)
        if placeholder_name:
            names[placeholder_name] = result
            if namespace := schema.get("namespace"):
                names[f"{namespace}.{placeholder_name}"] = result
        return result
    if kind == "enum":
        result = (pa.string(), None)
    elif kind == "fixed":
        result = (pa.binary(schema["size"]), None)
    elif kind == "array":
        item, fix = _avro_type(schema["items"], names)
        return pa.list_(item), (lambda v, f=fix: None if v is None else [f(x) for x in v]) if fix else None
    elif kind == "map":
        item, fix = _avro_type(schema["values"], names)
        convert = (lambda v, f=fix: None if v is None else {k: f(x) for k, x in v.items()}) if fix else None
        return pa.map_(pa.string(), item), convert
    else:
        return _avro_type(kind, names)
    if name := schema.get("name"):
        names[name] = result
    return result


def _uuid_text(value: Any) -> Any:
    return None if value is None else str(value)


def _record_fix(fixes: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def fix(record: Any) -> Any:
        if record is None:
            return None
        for name, convert in fixes.items():
            if record.get(name) is not None:
                record[name] = convert(record[name])
        return record

    return fix


# -- CSV -------------------------------------------------------------------------------------------

_CSV_CANDIDATES = [
    pa.int64(),
    pa.float64(),
    pa.bool_(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
]


def _csv(fs: pafs.FileSystem, path: str, props: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    probe = _open_csv(fs, path, props, None)
    names = probe.schema.names
    probe.close()
    if len(set(names)) != len(names) or any(not name for name in names):
        raise ValueError(f"the CSV header has empty or repeated column names: {names}")
    inferred = _natively_inferred(fs, path, props)
    if inferred is not None:
        # pyarrow's own inference held for every block: read again with those types, all in C++.
        return inferred, _rechunk(_open_csv(fs, path, props, None, column_types=inferred), batch_rows)
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

    return schema, _rechunk(batches(), batch_rows)


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
        block_size=BLOCK_BYTES, encoding=props.encoding, autogenerate_column_names=not props.header
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


# -- JSON ------------------------------------------------------------------------------------------


def _json(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    schema: pa.Schema | None = None
    for block in _json_blocks(fs, path):
        block_schema = _read_json_block(block, None).schema
        schema = block_schema if schema is None else merge_json_schemas(schema, block_schema)
    if schema is None:
        schema = pa.schema([])

    def batches() -> Iterator[pa.RecordBatch]:
        for block in _json_blocks(fs, path):
            yield from _read_json_block(block, schema).to_batches()

    return schema, _rechunk(batches(), batch_rows)


_JSON_THREAD_BLOCK = 1 << 20


def _read_json_block(block: bytes, schema: pa.Schema | None) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    if schema is None:  # inferring: one block, so that types are judged over all of it
        read = pajson.ReadOptions(block_size=len(block) + 1, use_threads=False)
    else:  # converting to a known schema: parse sub-blocks on every core
        read = pajson.ReadOptions(block_size=_JSON_THREAD_BLOCK, use_threads=True)
    return pajson.read_json(io.BytesIO(block), read_options=read, parse_options=options)


def _json_blocks(fs: pafs.FileSystem, path: str) -> Iterator[bytes]:
    """The file as JSON-lines blocks of about BLOCK_BYTES, each ending at a line end."""
    with fs.open_input_stream(path) as stream:
        head = stream.read(BLOCK_BYTES).removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        start = head.lstrip(b" \t\r\n")[:1]
        if start == b"[":
            yield from _array_blocks(head, stream)
            return
        if start != b"{":
            raise ValueError("JSON must be objects, one per line, or one array of objects")
        pending = head
        while True:
            cut = pending.rfind(b"\n")
            if len(pending) >= BLOCK_BYTES and cut >= 0:
                yield pending[: cut + 1]
                pending = pending[cut + 1 :]
            chunk = stream.read(BLOCK_BYTES)
            if not chunk:
                if pending.strip():
                    yield pending
                return
            pending += chunk


def _array_blocks(head: bytes, stream: Any) -> Iterator[bytes]:
    """A top-level JSON array re-emitted as JSON lines, one element at a time."""
    lines: list[bytes] = []
    size = 0
    for index, element in enumerate(_array_elements(head, stream)):
        if not isinstance(element, dict):
            raise ValueError(f"element {index} of the JSON array is not an object")
        line = json.dumps(element, ensure_ascii=False).encode() + b"\n"
        lines.append(line)
        size += len(line)
        if size >= BLOCK_BYTES:
            yield b"".join(lines)
            lines, size = [], 0
    if lines:
        yield b"".join(lines)


def _array_elements(head: bytes, stream: Any) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    text = utf8.decode(head)
    eof = False
    pos = 0

    def more(minimum: int) -> bool:
        nonlocal text, pos, eof
        if eof:
            return False
        chunk = stream.read(max(BLOCK_BYTES, minimum))
        eof = not chunk
        text = text[pos:] + utf8.decode(chunk, final=eof)
        pos = 0
        return True

    def skip_space() -> str:
        nonlocal pos
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos < len(text):
                return text[pos]
            if not more(0):
                return ""

    if skip_space() != "[":
        raise ValueError("expected a JSON array")
    pos += 1
    if skip_space() == "]":
        return
    while True:
        while True:
            try:
                value, pos = decoder.raw_decode(text, pos)
                break
            except json.JSONDecodeError as exc:
                if not more(2 * (len(text) - pos)):
                    raise ValueError(f"bad JSON in the array: {exc.msg}") from None
        yield value
        char = skip_space()
        if char == "]":
            return
        if char != ",":
            raise ValueError(f"expected ',' or ']', got {char!r}" if char else "the JSON array is not closed")
        pos += 1
        skip_space()


def merge_json_schemas(left: pa.Schema, right: pa.Schema) -> pa.Schema:
    """Union of two blocks' inferred schemas: nulls take the other type, ints widen to double,
    timestamps that are also plain text become text, structs merge field by field."""
    merged = {f.name: f.type for f in left}
    for field in right:
        have = merged.get(field.name)
        merged[field.name] = field.type if have is None else _merge_json_type(have, field.type, field.name)
    return pa.schema(list(merged.items()))


def _merge_json_type(left: pa.DataType, right: pa.DataType, name: str) -> pa.DataType:
    if left == right:
        return left
    if pa.types.is_null(left) or pa.types.is_null(right):
        return right if pa.types.is_null(left) else left
    if {left, right} == {pa.int64(), pa.float64()}:
        return pa.float64()
    textual = (pa.types.is_timestamp, pa.types.is_string)
    if any(check(left) for check in textual) and any(check(right) for check in textual):
        return pa.string()  # text that parsed as a timestamp in some rows only
    if pa.types.is_struct(left) and pa.types.is_struct(right):
        return pa.struct(list(merge_json_schemas(pa.schema(list(left)), pa.schema(list(right)))))
    if pa.types.is_list(left) and pa.types.is_list(right):
        return pa.list_(_merge_json_type(left.value_type, right.value_type, name))
    raise ValueError(f"field '{name}' holds both {left} and {right} values")


# -- shared ----------------------------------------------------------------------------------------


def _rechunk(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Slices of at most ``batch_rows`` rows (readers that produce blocks or stripes)."""
    for batch in batches:
        for offset in range(0, batch.num_rows, batch_rows):
            yield batch.slice(offset, batch_rows)


_OPENERS = {
    FileType.PARQUET: _parquet,
    FileType.ORC: _orc,
    FileType.AVRO: _avro,
    FileType.CSV: _csv,
    FileType.JSON: _json,
}
