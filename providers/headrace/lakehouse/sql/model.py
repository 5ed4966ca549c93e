"""What every part of the SQL service speaks in: table references, query errors, result columns and rows.

Kept apart so that the guard, the rewriting, the execution and the rendering share one vocabulary
without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from headrace.lakehouse.names import InvalidName, validate_name

if TYPE_CHECKING:  # names only: the errors and references here are used where pyarrow is not imported
    import pyarrow as pa
    import pyarrow.dataset as ds

DIALECT = "duckdb"

ArrowData = Union["pa.Table", "ds.Dataset", "pa.RecordBatchReader", "ParquetFiles"]  # names only
Resolver = Callable[["TableRef"], ArrowData]


@dataclass(frozen=True)
class ParquetFiles:
    """A table that is exactly its Parquet files: every file has ``dataset.schema``'s columns, by name and
    type, and no other rows apply (no delete files, no partition values outside the files).

    Such a table need not go through pyarrow at all: where the files are local, DuckDB reads them itself
    (its Parquet reader with projection, filter and row-group pruning); elsewhere it scans ``dataset``.
    ``native`` is False when DuckDB would type a column differently than Arrow (UUIDs, fixed binary).
    """

    dataset: ds.FileSystemDataset
    native: bool = True


@dataclass(frozen=True)
class TableRef:
    catalog: str
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"


class QueryError(ValueError):
    """A query the caller got wrong: a stable ``code``, the request ``field`` at fault and a ``message``."""

    code: str = "QUERY_FAILED"

    def __init__(self, message: str, *, code: str | None = None, field: str = "sql") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, message={self.message!r})"


class TableNotFound(QueryError):
    """Raised by resolvers for a ``catalog.schema.table`` that does not exist."""

    code = "TABLE_NOT_FOUND"


_PARTS = ("catalog", "schema", "table")


def parse_table_name(name: str, *, default_catalog: str | None = None, field: str = "table") -> TableRef:
    """``catalog.schema.table``, or ``schema.table`` in ``default_catalog``, with every part checked.

    For names given outside SQL (a transform's target, a checked table); ``field`` names the argument.
    """
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) == 2 and default_catalog:
        parts = [default_catalog, *parts]
    if len(parts) != 3:
        hint = "" if default_catalog or len(parts) != 2 else " (or schema.table with a default catalog)"
        raise QueryError(
            f"{field} must be catalog.schema.table{hint}; got {name!r}.", code="INVALID_TABLE", field=field
        )
    try:
        return TableRef(*(validate_name(part, label) for part, label in zip(parts, _PARTS, strict=True)))
    except InvalidName as exc:
        raise QueryError(f"{field}: {exc.message} ({name!r}).", code="INVALID_TABLE", field=field) from None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type name, e.g. "BIGINT", "TIMESTAMP WITH TIME ZONE", "STRUCT(a INTEGER)"


@dataclass(frozen=True)
class QueryResult:
    columns: list[Column]
    rows: list[list[Any]]  # JSON-ready values
    row_count: int
    truncated: bool
    elapsed_ms: float
