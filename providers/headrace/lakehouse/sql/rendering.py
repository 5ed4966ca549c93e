"""Arrow results as JSON-ready rows: what the Query API returns for every DuckDB type.

JSON has no dates, decimals, binary, NaN or 64-bit-safe integers, so each Arrow type gets one stable
spelling: ISO 8601 for dates, times, timestamps (with the zone's offset) and intervals, decimals as
strings (no float rounding), binary as base64, non-finite floats as ``"NaN"``/``"Infinity"``, maps as
objects (non-string keys JSON-encoded), ``infinity``/``-infinity`` for DuckDB's infinite dates.
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from headrace.lakehouse.sql.model import Column

__all__ = ["json_rows"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_INT64_MAX, _INT64_MIN = 2**63 - 1, -(2**63) + 1
_INT32_MAX, _INT32_MIN = 2**31 - 1, -(2**31) + 1
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def json_rows(table: pa.Table, columns: list[Column]) -> list[list[Any]]:
    """Every row of ``table`` as a list of JSON-ready values, in the order of ``columns``."""
    converted = []
    for index, column in enumerate(columns):
        values = _convert(table.column(index).combine_chunks())
        if column.type in ("HUGEINT", "UHUGEINT"):  # exported as decimal128(38, 0); keep them numbers
            values = [None if v is None else int(v) for v in values]
        converted.append(values)
    return [list(row) for row in zip(*converted, strict=True)] if converted else []


def _convert(array: pa.Array) -> list[Any]:
    """Arrow array -> JSON-ready Python values, recursively."""
    t = array.type
    if isinstance(t, pa.ExtensionType):
        storage = array.storage
        if t.extension_name == "arrow.uuid":
            return [None if b is None else str(uuid.UUID(bytes=b)) for b in storage.to_pylist()]
        return _convert(storage)
    if pa.types.is_dictionary(t):
        return _convert(array.dictionary_decode())
    if pa.types.is_null(t):
        return [None] * len(array)
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        children = [_convert(child) for child in array.flatten()]
        nulls = array.is_null().to_pylist()
        return [
            None if nulls[i] else {name: values[i] for name, values in zip(names, children, strict=True)}
            for i in range(len(array))
        ]
    if pa.types.is_map(t):
        entries = array.cast(pa.list_(pa.struct([t.key_field, t.item_field])))
        pairs = _split_list(entries, lambda flat: list(zip(*map(_convert, flat.flatten()), strict=True)))
        return [None if p is None else {_json_key(k): v for k, v in p} for p in pairs]
    if pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return _convert(array.cast(pa.list_(t.value_field)))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _split_list(array, _convert)
    if pa.types.is_timestamp(t):
        return _map_ints(array, lambda v: _timestamp(v, t.unit, t.tz))
    if pa.types.is_date32(t):
        return _map_ints(array, _date)
    if pa.types.is_date64(t):
        return _map_ints(array, lambda v: _date(v // 86_400_000))
    if pa.types.is_time(t):
        return _map_ints(array, lambda v: _time(v, t.unit))
    if pa.types.is_duration(t):
        return _map_ints(array, lambda v: _iso_duration(0, 0, v * (1_000_000_000 // _PER_SECOND[t.unit])))
    if t == pa.month_day_nano_interval():
        return [None if v is None else _iso_duration(*v) for v in array.to_pylist()]
    if pa.types.is_floating(t):
        return [_float(v) for v in array.to_pylist()]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in array.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [None if v is None else base64.b64encode(v).decode("ascii") for v in array.to_pylist()]
    if pa.types.is_binary_view(t):
        return _convert(array.cast(pa.binary()))
    if pa.types.is_string_view(t):
        return array.cast(pa.string()).to_pylist()
    return [_plain(v) for v in array.to_pylist()]


def _split_list(array: pa.Array, convert: Callable[[pa.Array], list[Any]]) -> list[Any]:
    lengths = pc.list_value_length(array).to_pylist()
    flat = convert(array.flatten())
    out: list[Any] = []
    position = 0
    for length in lengths:
        if length is None:
            out.append(None)
        else:
            out.append(list(flat[position : position + length]))
            position += length
    return out


def _map_ints(array: pa.Array, render: Callable[[int], str]) -> list[Any]:
    storage = pa.int32() if pa.types.is_date32(array.type) or array.type.bit_width == 32 else pa.int64()
    return [None if v is None else render(v) for v in array.view(storage).to_pylist()]


def _zone(tz: str) -> tzinfo:
    if tz.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
        return UTC
    match = _OFFSET.match(tz)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    return ZoneInfo(tz)


def _timestamp(value: int, unit: str, tz: str | None) -> str:
    if value >= _INT64_MAX:
        return "infinity"
    if value <= _INT64_MIN:
        return "-infinity"
    per_second = _PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return str(pa.scalar(value, pa.timestamp(unit, tz)).cast(pa.string()))
    suffix = ""
    if tz:
        aware = moment.replace(tzinfo=UTC).astimezone(_zone(tz))
        moment = aware.replace(tzinfo=None)
        suffix = aware.isoformat()[len(moment.isoformat()) :]
    text = moment.isoformat()
    if fraction:
        digits = len(str(per_second)) - 1
        text += "." + f"{fraction:0{digits}d}"
    return text + suffix


def _date(days: int) -> str:
    if days >= _INT32_MAX:
        return "infinity"
    if days <= _INT32_MIN:
        return "-infinity"
    try:
        return (_EPOCH_DATE + timedelta(days=days)).isoformat()
    except OverflowError:
        return str(pa.scalar(days, pa.date32()).cast(pa.string()))


def _time(value: int, unit: str) -> str:
    per_second = _PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if fraction:
        text += "." + f"{fraction:0{len(str(per_second)) - 1}d}"
    return text


def _iso_duration(months: int, days: int, nanoseconds: int) -> str:
    """ISO 8601 duration, e.g. ``P1Y2M3DT4H5M6.5S``; components may be negative (as in DuckDB intervals)."""
    years, months = int(months / 12), months - int(months / 12) * 12
    date_part = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    sign = "-" if nanoseconds < 0 else ""
    seconds, nanos = divmod(abs(nanoseconds), 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    second_text = f"{seconds}" + (f".{nanos:09d}".rstrip("0") if nanos else "")
    time_part = "".join(
        f"{sign}{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (second_text, "S")) if n not in (0, "0")
    )
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")


def _float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return json.dumps(key, separators=(",", ":"), sort_keys=True)


def _plain(value: Any) -> Any:
    """Fallback conversion of values pyarrow already turned into Python objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(0, value.days, (value.seconds * 1_000_000 + value.microseconds) * 1000)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {_json_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
