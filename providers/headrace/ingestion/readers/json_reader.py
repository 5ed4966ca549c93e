"""JSON lines (one object per line) or one top-level array of objects, in one pass or two.

One pass (:func:`json_batches_once`, the engine's way): the types are inferred from the first block
(about ``BLOCK_BYTES``, judged over all of it), and that block and every later one are converted with
them while reading; a later block that does not convert, or brings a field or nested field the first
did not have, raises :class:`TypesContradicted` and the engine reads the file again in two passes.
Two passes (:func:`json_batches`): pass one infers the types block by block and merges them
(:func:`merge_json_schemas`), pass two converts with the merged schema.

An array is parsed element by element with ``json.JSONDecoder.raw_decode`` (memory: one element, so
an array that is a single huge object is held whole). Nested objects stay structs; a field that is a
number in one place and text in another is refused.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.json as pajson

from headrace.ingestion.readers import stream as shared
from headrace.ingestion.readers.stream import TypesContradicted, prefetched, rechunk
from headrace.ingestion.spec import CsvProperties


def json_batches(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
    schema: pa.Schema | None = None
    rows = 0
    for block in _json_blocks(fs, path):
        try:
            table = _read_json_block(block, None)
        except pa.ArrowInvalid as exc:
            raise ValueError(_in_file_row(str(exc), rows)) from None
        rows += table.num_rows
        schema = table.schema if schema is None else merge_json_schemas(schema, table.schema)
    if schema is None:
        schema = pa.schema([])

    def batches() -> Iterator[pa.RecordBatch]:
        for block in _json_blocks(fs, path):
            yield from _read_json_block(block, schema).combine_chunks().to_batches()

    return schema, rechunk(batches(), batch_rows)


def json_batches_once(
    fs: pafs.FileSystem,
    path: str,
    _: CsvProperties,
    batch_rows: int,
    uri: str,
    types: pa.Schema | None = None,
) -> tuple[pa.Schema, Any]:
    """One read: the first block's types (or ``types``), or TypesContradicted (while iterating)
    when a later block does not fit them, carrying them merged with that block's own types."""
    blocks = _json_blocks(fs, path)
    first_block = next(blocks, None)
    if first_block is None:
        return types or pa.schema([]), iter(())
    if types is None:
        try:
            first = _read_json_block(first_block, None)
        except pa.ArrowInvalid as exc:
            raise ValueError(_in_file_row(str(exc), 0)) from None
        schema = first.schema
    else:
        first, schema = _fitting(first_block, types, uri), types

    def tables() -> Iterator[pa.Table]:
        for block in blocks:
            yield _fitting(block, schema, uri).combine_chunks()

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first.combine_chunks().to_batches()
        for table in prefetched(tables()):  # the next block parses while this one is written
            yield from table.to_batches()

    return schema, rechunk(batches(), batch_rows)


def _fitting(block: bytes, schema: pa.Schema, uri: str) -> pa.Table:
    """The block converted to ``schema``; TypesContradicted when it does not fit."""
    try:
        table = _read_json_block(block, schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TypesContradicted(uri, str(exc).strip().splitlines()[0], _widened(block, schema)) from exc
    if table.schema != schema:
        raise TypesContradicted(uri, "a field the first rows did not have", _widened(block, schema))
    return table


def _widened(block: bytes, schema: pa.Schema) -> pa.Schema | None:
    """``schema`` merged with the block's own inferred types, or None (two passes will tell why)."""
    try:
        return merge_json_schemas(schema, _read_json_block(block, None).schema)
    except (ValueError, pa.ArrowException):
        return None


_JSON_THREAD_BLOCK = 1 << 20
_BLOCK_ROW = re.compile(r" in row (\d+)$")


def _in_file_row(message: str, rows_before: int) -> str:
    """pyarrow's error for one block, with its block-relative row (0-based) made the file's row
    (1-based: the line of a JSON-lines file, the element of an array)."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return _BLOCK_ROW.sub(lambda m: f" in row {rows_before + int(m.group(1)) + 1:,} of the file", first)


def _read_json_block(block: bytes, schema: pa.Schema | None) -> pa.Table:
    """One block as a table of a chunk per 1 MiB sub-block (callers combine the chunks: a batch per
    block, not per sub-block, so that staging writes a row group per batch of up to ``batch_rows``
    rows rather than of ~13,000; the copy is one block)."""
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    if schema is None:  # inferring: one block, so that types are judged over all of it
        read = pajson.ReadOptions(block_size=len(block) + 1, use_threads=False)
    else:  # converting to a known schema: parse sub-blocks on every core
        read = pajson.ReadOptions(block_size=_JSON_THREAD_BLOCK, use_threads=True)
    return pajson.read_json(io.BytesIO(block), read_options=read, parse_options=options)


def _json_blocks(fs: pafs.FileSystem, path: str) -> Iterator[bytes]:
    """The file as JSON-lines blocks of about shared.BLOCK_BYTES, each ending at a line end."""
    with fs.open_input_stream(path) as stream:
        head = stream.read(shared.BLOCK_BYTES).removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
        start = head.lstrip(b" \t\r\n")[:1]
        if start == b"[":
            yield from _array_blocks(head, stream)
            return
        if start != b"{":
            raise ValueError("JSON must be objects, one per line, or one array of objects")
        pending = head
        while True:
            cut = pending.rfind(b"\n")
            if len(pending) >= shared.BLOCK_BYTES and cut >= 0:
                yield pending[: cut + 1]
                pending = pending[cut + 1 :]
            chunk = stream.read(shared.BLOCK_BYTES)
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
        if size >= shared.BLOCK_BYTES:
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
        chunk = stream.read(max(shared.BLOCK_BYTES, minimum))
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
