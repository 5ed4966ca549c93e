"""The two ways to run a user's query: the same checks, rewriting and table resolution, two executions.

:func:`run_query` (the Query API) runs DuckDB in a child process held to :class:`QueryLimits` and killed
at its timeout (see :mod:`.sandbox` for why DuckDB's own limits are not enough) and returns at most
``limit`` JSON-ready rows. :func:`query_arrow` (SQL transforms, in their own task process) runs in this
process and returns the whole result as Arrow.
"""

from __future__ import annotations

import time

import pyarrow as pa

from headrace.lakehouse.sql import sandbox
from headrace.lakehouse.sql.execution import resolve_tables, run_sql, sandbox_error, validate_options
from headrace.lakehouse.sql.model import ArrowData, Column, QueryError, QueryResult, Resolver
from headrace.lakehouse.sql.references import PreparedQuery, prepare_query
from headrace.lakehouse.sql.rendering import json_rows
from headrace.lakehouse.sql.sandbox import QueryLimits

__all__ = ["query_arrow", "run_query"]


def _prepared(
    sql: str,
    resolve: Resolver,
    *,
    default_catalog: str | None,
    limit: int,
    timeout_seconds: float,
    collect: bool,
) -> tuple[PreparedQuery, dict[str, ArrowData]]:
    """Validate the options, check and rewrite ``sql``, resolve its tables: the steps both ways share.

    Bad options and bad SQL are refused before any table is resolved (opening a table costs I/O).
    """
    validate_options(default_catalog, limit, timeout_seconds)
    prepared = prepare_query(sql, default_catalog=default_catalog)
    return prepared, resolve_tables(prepared, resolve, collect=collect)


def query_arrow(
    sql: str,
    resolve: Resolver,
    *,
    default_catalog: str | None = None,
    timeout_seconds: float = 3600.0,
) -> pa.Table:
    """Run one read-only query over resolved lakehouse tables and return its whole result as Arrow.

    No row limit and no JSON conversion: for callers that write the result (SQL transforms).
    """
    prepared, tables = _prepared(
        sql, resolve, default_catalog=default_catalog, limit=1, timeout_seconds=timeout_seconds, collect=True
    )
    _, table = run_sql(
        prepared.sql(), tables, limit=None, timeout_seconds=timeout_seconds, rename=prepared.rename
    )
    return table


def run_query(
    sql: str,
    resolve: Resolver,
    *,
    default_catalog: str | None = None,
    limit: int = 1000,
    timeout_seconds: float = 30.0,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run one read-only query over resolved lakehouse tables; at most ``limit`` rows come back.

    DuckDB runs in a child process held to ``limits`` (default: 1GB, 2 threads) and killed after
    ``timeout_seconds``: QUERY_MEMORY_LIMIT, QUERY_TIMEOUT, QUERY_RESULT_TOO_LARGE otherwise.
    """
    started = time.perf_counter()
    limits = limits or QueryLimits()
    prepared, tables = _prepared(
        sql,
        resolve,
        default_catalog=default_catalog,
        limit=limit,
        timeout_seconds=timeout_seconds,
        collect=False,  # the child collects a table scanned twice, under its memory limit
    )
    uses = {prepared.names[ref]: count for ref, count in prepared.uses.items()}
    try:
        names, table = sandbox.run(
            prepared.sql(), tables, uses=uses, limit=limit, timeout_seconds=timeout_seconds, limits=limits
        )
    except sandbox.SandboxError as exc:
        raise sandbox_error(exc, limits, timeout_seconds, prepared.rename) from None
    columns = [Column(name, kind) for name, kind in names]
    truncated = table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    try:
        rows = json_rows(table, columns)
    except (ValueError, OverflowError, TypeError, pa.ArrowException) as exc:
        raise QueryError(f"Could not convert the result: {exc}", code="QUERY_FAILED") from exc
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
    )
