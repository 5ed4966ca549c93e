"""Profiles and previews of catalog tables in SQL databases, and of lakehouse tables (Arrow).

``row_count`` is always exact (``COUNT(*)`` on the table, or the table's own row count). Null
counts, distinct counts and duplicate rows are computed over the whole table when it has at most
``FULL_SCAN_ROWS`` rows, else over a sample of ``sample_size`` rows; the answer says which
(``basis``). A column's ``unique`` is the declared constraint when there is one, else what was
proven on that basis.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from headrace.sources import catalog, recommend
from headrace.sources.catalog import TableInfo

FULL_SCAN_ROWS = 1_000_000
# Types that DISTINCT cannot compare (PostgreSQL json, xml, geometry; blobs): not counted for them.
_INCOMPARABLE = ("json", "xml", "geometry", "geography", "bytea", "blob", "binary", "array", "[]")


@dataclass
class ColumnProfile:
    name: str
    type: str
    nullable: bool  # declared
    null_count: int  # observed on the basis
    unique: bool | None
    unique_basis: str  # declared | full_table | sample | not_comparable
    distinct_count: int | None


@dataclass
class Profile:
    row_count: int
    basis: str  # full_table | sample
    rows_examined: int
    columns: list[ColumnProfile]
    null_percentage: float
    duplicate_percentage: float | None
    size_mb: float | None
    recommendations: list[recommend.Reason] = field(default_factory=list)


def _comparable(type_name: str) -> bool:
    return not any(word in type_name.lower() for word in _INCOMPARABLE)


def profile_sql(connection: Connection, table: TableInfo, sample_size: int) -> Profile:
    t = catalog.table_object(connection, table)
    row_count = int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
    full = row_count <= FULL_SCAN_ROWS
    source = t if full else sa.select(*t.c).limit(sample_size).subquery("sample")
    cols = {c.name: source.c[c.name] for c in table.columns}
    comparable = [c for c in table.columns if _comparable(c.type)]
    selects = [sa.func.count().label("n")]
    selects += [
        (sa.func.count() - sa.func.count(cols[c.name])).label(f"n{i}") for i, c in enumerate(table.columns)
    ]
    selects += [sa.func.count(sa.distinct(cols[c.name])).label(f"d{i}") for i, c in enumerate(comparable)]
    time_col = recommend.time_column([(c.name, c.type) for c in table.columns])
    if time_col:
        selects += [sa.func.min(cols[time_col]).label("tmin"), sa.func.max(cols[time_col]).label("tmax")]
    row = connection.execute(sa.select(*selects).select_from(source)).mappings().one()
    examined = int(row["n"])
    distinct_rows = None
    if comparable and len(comparable) == len(table.columns):
        distinct_rows = connection.execute(
            sa.select(sa.func.count()).select_from(sa.select(*cols.values()).distinct().subquery("d"))
        ).scalar()
    basis = "full_table" if full else "sample"
    profiles = []
    distinct_of = {c.name: int(row[f"d{i}"]) for i, c in enumerate(comparable)}
    for i, column in enumerate(table.columns):
        distinct = distinct_of.get(column.name)
        if column.unique:
            unique, unique_basis = True, "declared"
        elif distinct is None:
            unique, unique_basis = None, "not_comparable"
        else:
            nulls = int(row[f"n{i}"])
            unique, unique_basis = examined > 0 and distinct == examined - nulls, basis
        profiles.append(
            ColumnProfile(
                column.name, column.type, column.nullable, int(row[f"n{i}"]), unique, unique_basis, distinct
            )
        )
    size = catalog.table_size_bytes(connection, table)
    result = _finish(
        row_count, basis, examined, profiles, distinct_rows, None if size is None else size / catalog.MB
    )
    result.recommendations = [
        recommend.partitioning(time_col, row_count, row.get("tmin"), row.get("tmax")),
        *recommend.index_candidates(
            foreign_keys=[(fk.columns[0], fk.table) for fk in table.foreign_keys if len(fk.columns) == 1],
            unique_columns=[p.name for p in profiles if p.unique and p.unique_basis != "declared"],
            indexed={c.name for c in table.columns if c.indexed},
            time_col=time_col,
        ),
    ]
    return result


def _finish(
    row_count: int,
    basis: str,
    examined: int,
    columns: list[ColumnProfile],
    distinct_rows: int | None,
    size_mb: float | None,
) -> Profile:
    cells = examined * len(columns)
    nulls = sum(c.null_count for c in columns)
    duplicates = (
        None
        if distinct_rows is None or not examined
        else round(100 * (examined - distinct_rows) / examined, 4)
    )
    return Profile(
        row_count=row_count,
        basis=basis,
        rows_examined=examined,
        columns=columns,
        null_percentage=round(100 * nulls / cells, 4) if cells else 0.0,
        duplicate_percentage=duplicates,
        size_mb=None if size_mb is None else round(size_mb, 3),
    )


def preview_sql(connection: Connection, table: TableInfo, limit: int) -> tuple[list[str], list[list[Any]]]:
    t = catalog.table_object(connection, table)
    rows = connection.execute(sa.select(*t.c).limit(limit)).all()
    return [c.name for c in table.columns], [[jsonable(v) for v in r] for r in rows]


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value == value.to_integral_value() or abs(value) < 1e15 else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


# --------------------------------------------------------------------------------------- lakehouse
def profile_arrow(data: pa.Table, row_count: int, size_bytes: int | None, sample_size: int) -> Profile:
    """The same profile over a lakehouse table's Arrow data (``data`` is the whole table when it has
    at most ``FULL_SCAN_ROWS`` rows, else its first ``sample_size`` rows)."""
    basis = "full_table" if data.num_rows >= row_count else "sample"
    examined = data.num_rows
    profiles = []
    comparable_names = []
    for f in data.schema:
        array = data.column(f.name)
        type_name = str(f.type)
        distinct = None
        if _arrow_comparable(f.type):
            distinct = int(pc.count_distinct(array, mode="only_valid").as_py())
            comparable_names.append(f.name)
        nulls = array.null_count
        unique = None if distinct is None else bool(examined and distinct == examined - nulls)
        basis_word = basis if distinct is not None else "not_comparable"
        profiles.append(ColumnProfile(f.name, type_name, f.nullable, nulls, unique, basis_word, distinct))
    distinct_rows = None
    if comparable_names and len(comparable_names) == data.num_columns and examined:
        distinct_rows = data.group_by(comparable_names).aggregate([]).num_rows
    result = _finish(
        row_count,
        basis,
        examined,
        profiles,
        distinct_rows,
        None if size_bytes is None else size_bytes / catalog.MB,
    )
    time_col = recommend.time_column([(f.name, str(f.type)) for f in data.schema])
    low = high = None
    if time_col and examined:
        bounds = pc.min_max(data.column(time_col))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
    result.recommendations = [
        recommend.partitioning(time_col, row_count, low, high),
        *recommend.index_candidates(foreign_keys=[], unique_columns=[], indexed=set(), time_col=None),
    ]
    return result


def _arrow_comparable(arrow_type: pa.DataType) -> bool:
    return not (
        pa.types.is_nested(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def preview_arrow(data: pa.Table, limit: int) -> tuple[list[str], list[list[Any]]]:
    head = data.slice(0, limit)
    columns = head.column_names
    rows = [[jsonable(row[c]) for c in columns] for row in head.to_pylist()]
    return columns, rows
