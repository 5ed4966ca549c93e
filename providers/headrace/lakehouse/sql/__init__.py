"""Read-only SQL over lakehouse tables, executed by DuckDB on Arrow data.

One query goes through four modules, each with one job:

* :mod:`.guard` parses it with sqlglot and refuses anything but one read-only query over
  ``catalog.schema.table`` names (no DDL/DML, no table functions, no file or URL reads);
* :mod:`.references` finds the tables it reads and rewrites it to read each under a generated name;
* :mod:`.execution` runs it on a locked-down DuckDB (no external access, no extension auto-install or
  auto-load, no Python replacement scans, configuration locked) in this process, and :mod:`.sandbox`
  in a child process the operating system holds to memory, thread and time limits;
* :mod:`.rendering` turns the Arrow result into JSON-ready rows.

:func:`run_query` (the Query API) and :func:`query_arrow` (SQL transforms) in :mod:`.api` tie them
together; the names below are the package's public API. Plain Python: no Flask, no Airflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headrace.lakehouse.sql.api import query_arrow, run_query
    from headrace.lakehouse.sql.execution import duckdb_message, run_sql
    from headrace.lakehouse.sql.guard import parse_read_only
    from headrace.lakehouse.sql.model import (
        DIALECT,
        ArrowData,
        Column,
        ParquetFiles,
        QueryError,
        QueryResult,
        Resolver,
        TableNotFound,
        TableRef,
        parse_table_name,
    )
    from headrace.lakehouse.sql.references import PreparedQuery, prepare_query, table_references
    from headrace.lakehouse.sql.sandbox import QueryLimits

# Imported on first use (PEP 562), so that ``headrace.lakehouse.sql.model`` (errors, table references)
# can be imported without DuckDB, pyarrow and sqlglot: a DAG-parsing process needs only the models.
_EXPORTS = {
    **dict.fromkeys(("query_arrow", "run_query"), "api"),
    **dict.fromkeys(("duckdb_message", "run_sql"), "execution"),
    "parse_read_only": "guard",
    **dict.fromkeys(
        [
            "DIALECT",
            "ArrowData",
            "Column",
            "ParquetFiles",
            "QueryError",
            "QueryResult",
            "Resolver",
            "TableNotFound",
        ],
        "model",
    ),
    **dict.fromkeys(("TableRef", "parse_table_name"), "model"),
    **dict.fromkeys(("PreparedQuery", "prepare_query", "table_references"), "references"),
    "QueryLimits": "sandbox",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:  # also how ``from headrace.lakehouse.sql import sandbox`` finds a submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DIALECT",
    "ArrowData",
    "Column",
    "ParquetFiles",
    "PreparedQuery",
    "QueryError",
    "QueryLimits",
    "QueryResult",
    "Resolver",
    "TableNotFound",
    "TableRef",
    "duckdb_message",
    "parse_read_only",
    "parse_table_name",
    "prepare_query",
    "query_arrow",
    "run_query",
    "run_sql",
    "table_references",
]
