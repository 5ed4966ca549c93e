"""Column types of incoming files made storable, and the evolution rules between files and a table.

Normalization first maps whatever a reader produced to the types every table format can store
(Iceberg being the narrowest): dictionaries decoded, int8/int16/unsigned to int32/int64, large and
view types to plain ones, times and timestamps to microseconds (nanoseconds are truncated, as
pyiceberg and delta-rs do), timestamp zones to UTC. A column with no type (JSON field that is null
in every row) is dropped: it has no type to give the table and reads back as null either way.

Then :func:`merge_schema` folds each file's schema into the target: existing columns keep their
type when the file's type casts to it without loss (int32 into bigint, float into double, int into
double, a struct with fewer fields); the table's own type is widened (int32 -> bigint, float ->
double, decimal precision) only where the format allows it; new columns are appended when
``schema_evolution`` is on; anything else is a CommitFailed naming the column, both types, the
file and the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.types as pt

from headrace.lakehouse.tables.records import CommitFailed
from headrace.lakehouse.types import sql_type

_SMALL_INTS = (pa.int8(), pa.int16(), pa.uint8(), pa.uint16())


class UnsupportedType(ValueError):
    pass


def normalize_type(arrow_type: pa.DataType, table_format: str = "iceberg") -> pa.DataType | None:
    """The storable form of ``arrow_type``; None for a type-less (null) column."""
    t = arrow_type
    if pt.is_dictionary(t):
        return normalize_type(t.value_type, table_format)
    if pt.is_null(t):
        return None
    if t in _SMALL_INTS:
        return pa.int32()
    if pt.is_uint32(t) or pt.is_uint64(t):
        return pa.int64()
    if pt.is_float16(t):
        return pa.float32()
    if pt.is_large_string(t) or pt.is_string_view(t):
        return pa.string()
    if pt.is_large_binary(t) or pt.is_binary_view(t):
        return pa.binary()
    if pt.is_fixed_size_binary(t) and table_format == "delta":
        return pa.binary()
    if pt.is_date64(t):
        return pa.date32()
    if pt.is_time(t):
        if table_format == "delta":
            raise UnsupportedType("Delta tables have no time type")
        return pa.time64("us")
    if pt.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pt.is_decimal(t):
        if t.precision > 38:
            raise UnsupportedType(f"{t} has more than 38 digits")
        return pa.decimal128(t.precision, t.scale)
    if _is_list(t):
        item = normalize_type(t.value_type, table_format)
        return None if item is None else pa.list_(item)
    if pt.is_map(t):
        key, item = normalize_type(t.key_type, table_format), normalize_type(t.item_type, table_format)
        return None if key is None or item is None else pa.map_(key, item)
    if pt.is_struct(t):
        fields = [
            pa.field(f.name, normalized)
            for f in t
            if (normalized := normalize_type(f.type, table_format)) is not None
        ]
        return pa.struct(fields) if fields else None
    if pt.is_boolean(t) or pt.is_integer(t) or pt.is_floating(t) or pt.is_string(t) or pt.is_binary(t):
        return t
    if pt.is_date32(t) or pt.is_fixed_size_binary(t):
        return t
    raise UnsupportedType(f"type {t} is not supported")


def _is_list(t: pa.DataType) -> bool:
    return (
        pt.is_list(t)
        or pt.is_large_list(t)
        or pt.is_fixed_size_list(t)
        or pt.is_list_view(t)
        or (pt.is_large_list_view(t))
    )


def normalize_schema(schema: pa.Schema, *, table_format: str, source: str) -> pa.Schema:
    fields = []
    for f in schema:
        try:
            normalized = normalize_type(f.type, table_format)
        except UnsupportedType as exc:
            raise CommitFailed(f"Column '{f.name}' of {source}: {exc}", file=source) from None
        if normalized is not None:
            fields.append(pa.field(f.name, normalized))
    return pa.schema(fields)


def normalize_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in the normalized ``schema`` (columns without a type dropped)."""
    columns = []
    for f in schema:
        column = batch.column(f.name)
        if column.type != f.type:
            # Only nanosecond timestamps may lose digits; other casts must be exact (uint64 overflow).
            column = column.cast(f.type, safe=not _has_nanos(column.type))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _has_nanos(t: pa.DataType) -> bool:
    if (pt.is_timestamp(t) or pt.is_time64(t)) and t.unit == "ns":
        return True
    return any(_has_nanos(t.field(i).type) for i in range(t.num_fields))


def conform_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly the target's columns: missing ones null, others widened by cast."""
    names = set(batch.schema.names)
    columns = []
    for f in target:
        if f.name in names:
            column = batch.column(f.name)
            columns.append(column if column.type == f.type else column.cast(f.type, safe=False))
        else:
            columns.append(pa.nulls(batch.num_rows, f.type))
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema([pa.field(f.name, f.type) for f in target]))


@dataclass
class Evolution:
    """The rules of one target table.

    ``widen``: the format can widen the type of a column it already stores (Iceberg: int -> bigint,
    float -> double, decimal precision; Delta: no; Hive-style: yes, readers unify).
    ``table_columns``: paths of the columns the table stores now (empty for a new table: a job's
    files together define a new table, whatever ``schema_evolution`` says).
    """

    table: str
    allow_new: bool
    widen: bool
    table_columns: set[str] = field(default_factory=set)

    @classmethod
    def for_table(cls, table: str, schema: pa.Schema | None, *, allow_new: bool, widen: bool) -> Evolution:
        return cls(table, allow_new, widen, set(column_paths(schema)) if schema is not None else set())

    def merge(self, target: pa.Schema, incoming: pa.Schema, source: str) -> pa.Schema:
        merged = {f.name: f.type for f in target}
        for f in incoming:
            if f.name in merged:
                merged[f.name] = self._merge(merged[f.name], f.type, f.name, source)
            else:
                self._new(f.name, source)
                merged[f.name] = f.type
        return pa.schema([pa.field(name, t) for name, t in merged.items()])

    def _new(self, path: str, source: str) -> None:
        if self.table_columns and not self.allow_new:
            raise CommitFailed(
                f"Column '{path}' of {source} is not in table {self.table} (target.schema_evolution is off)",
                file=source,
            )

    def _merge(self, have: pa.DataType, got: pa.DataType, path: str, source: str) -> pa.DataType:
        if have == got:
            return have
        if pt.is_struct(have) and pt.is_struct(got):
            fields = {f.name: f.type for f in have}
            for f in got:
                child = f"{path}.{f.name}"
                if f.name in fields:
                    fields[f.name] = self._merge(fields[f.name], f.type, child, source)
                else:
                    self._new(child, source)
                    fields[f.name] = f.type
            return pa.struct([pa.field(name, t) for name, t in fields.items()])
        if pt.is_list(have) and pt.is_list(got):
            return pa.list_(self._merge(have.value_type, got.value_type, f"{path}[]", source))
        if pt.is_map(have) and pt.is_map(got) and have.key_type == got.key_type:
            return pa.map_(have.key_type, self._merge(have.item_type, got.item_type, f"{path}{{}}", source))
        wider = _wider(have, got)
        if wider is have:
            return have
        if wider is got and ((self.widen and self.allow_new) or path not in self.table_columns):
            return got
        why = ""
        if wider is got:
            why = (
                " (target.schema_evolution is off)" if not self.allow_new else " (the format cannot widen it)"
            )
        raise CommitFailed(
            f"Column '{path}' has type {sql_type(got)} in {source} but {sql_type(have)} in table "
            f"{self.table}{why}",
            file=source,
        )


def _wider(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """Which of two types holds every value of the other (a or b itself), None if neither."""
    if pt.is_integer(a) and pt.is_integer(b):
        return a if a.bit_width >= b.bit_width else b
    if pt.is_floating(a) and pt.is_floating(b):
        return a if a.bit_width >= b.bit_width else b
    if pt.is_float64(a) and pt.is_integer(b):
        return a
    if pt.is_decimal(a) and pt.is_decimal(b) and a.scale == b.scale:
        return a if a.precision >= b.precision else b
    return None


def column_paths(schema: pa.Schema) -> list[str]:
    """Every column and nested struct field as a dotted path (lists as ``name[]``)."""
    paths: list[str] = []

    def visit(t: pa.DataType, path: str) -> None:
        paths.append(path)
        if pt.is_struct(t):
            for f in t:
                visit(f.type, f"{path}.{f.name}")
        elif pt.is_list(t) or pt.is_large_list(t):
            visit(t.value_type, f"{path}[]")
        elif pt.is_map(t):
            visit(t.item_type, f"{path}{{}}")

    for f in schema:
        visit(f.type, f.name)
    return paths


def same_or_promotable(file_type: pa.DataType, table_type: pa.DataType) -> bool:
    """Whether a stored file column reads as the table column under Iceberg's promotion rules."""
    if file_type == table_type:
        return True
    if pt.is_struct(file_type) and pt.is_struct(table_type):
        table_fields = {f.name: f.type for f in table_type}
        return all(
            f.name in table_fields and same_or_promotable(f.type, table_fields[f.name]) for f in file_type
        )
    if pt.is_list(file_type) and pt.is_list(table_type):
        return same_or_promotable(file_type.value_type, table_type.value_type)
    if (pt.is_int32(file_type) and pt.is_int64(table_type)) or (
        pt.is_float32(file_type) and pt.is_float64(table_type)
    ):
        return True
    return (
        pt.is_decimal(file_type)
        and pt.is_decimal(table_type)
        and file_type.scale == table_type.scale
        and file_type.precision <= table_type.precision
    )
