"""One vocabulary of column types for every format: Arrow types rendered as SQL type names."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pt

_SIMPLE = [
    (pt.is_boolean, "boolean"),
    (pt.is_int8, "tinyint"),
    (pt.is_int16, "smallint"),
    (pt.is_int32, "integer"),
    (pt.is_int64, "bigint"),
    (pt.is_uint8, "smallint"),
    (pt.is_uint16, "integer"),
    (pt.is_uint32, "bigint"),
    (pt.is_uint64, "decimal(20,0)"),
    (pt.is_float16, "real"),
    (pt.is_float32, "real"),
    (pt.is_float64, "double"),
    (pt.is_date, "date"),
    (pt.is_null, "unknown"),
]


def sql_type(arrow_type: pa.DataType) -> str:
    for predicate, name in _SIMPLE:
        if predicate(arrow_type):
            return name
    if pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or pt.is_string_view(arrow_type):
        return "varchar"
    if pt.is_binary(arrow_type) or pt.is_large_binary(arrow_type) or pt.is_fixed_size_binary(arrow_type):
        return "varbinary"
    if pt.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pt.is_timestamp(arrow_type):
        precision = {"s": 0, "ms": 3, "us": 6, "ns": 9}[arrow_type.unit]
        zone = " with time zone" if arrow_type.tz else ""
        return f"timestamp({precision}){zone}"
    if pt.is_time(arrow_type):
        return "time"
    if pt.is_list(arrow_type) or pt.is_large_list(arrow_type) or pt.is_fixed_size_list(arrow_type):
        return f"array({sql_type(arrow_type.value_type)})"
    if pt.is_map(arrow_type):
        return f"map({sql_type(arrow_type.key_type)},{sql_type(arrow_type.item_type)})"
    if pt.is_struct(arrow_type):
        fields = ", ".join(f"{f.name} {sql_type(f.type)}" for f in arrow_type)
        return f"row({fields})"
    if pt.is_dictionary(arrow_type):
        return sql_type(arrow_type.value_type)
    return str(arrow_type)
