"""Avro: the header's schema mapped to Arrow, ``batch_rows`` decoded records at a time.

Unions other than ``[null, T]`` are refused; recursive types are not supported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.fs as pafs

from headrace.ingestion.spec import CsvProperties


def avro_batches(fs: pafs.FileSystem, path: str, _: CsvProperties, batch_rows: int) -> tuple[pa.Schema, Any]:
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
