"""Running checked SQL on DuckDB, and DuckDB's failures in the caller's terms.

Two ways to run: :func:`run_sql` in this process on a locked connection (checks and transforms, which
run in their own task process and need no row limit), and :func:`.sandbox.run` in a child process held
to :class:`QueryLimits` (the Query API, where one user's query must not take the server down);
:func:`sandbox_error` words the child's failures like :func:`run_sql` words DuckDB's. Error messages
name the tables as the user wrote them, never the generated names the query was rewritten to.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from headrace.lakehouse.sql import sandbox
from headrace.lakehouse.sql.model import ArrowData, Column, ParquetFiles, QueryError, Resolver
from headrace.lakehouse.sql.references import PreparedQuery
from headrace.lakehouse.sql.sandbox import QueryLimits

__all__ = ["duckdb_message", "resolve_tables", "run_sql", "sandbox_error", "validate_options"]


def _execute(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int | None,
    timeout_seconds: float,
    rename: dict[str, str] | None = None,
    params: list[Any] | None = None,
) -> tuple[list[Column], pa.Table]:
    """Run ``sql`` with at most ``limit + 1`` rows (all rows for None) and a timeout.

    ``params`` are bound to the SQL's ``?`` / ``$n`` placeholders. DuckDB errors become QueryError.
    """
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        connection.interrupt()

    timer = threading.Timer(timeout_seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        relation = connection.sql(sql, params=params)
        if relation is None:
            raise QueryError("The statement returned no result.", code="READ_ONLY")
        # names and types of the query itself: LIMIT on top would rename duplicate columns (a, a -> a, a_1)
        columns = [
            Column(name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
        ]
        table = (relation if limit is None else relation.limit(limit + 1)).to_arrow_table()
    except duckdb.Error as exc:
        if fired.is_set() or isinstance(exc, duckdb.InterruptException):
            raise QueryError(
                f"The query did not finish within {timeout_seconds:g} seconds.", code="QUERY_TIMEOUT"
            ) from exc
        raise QueryError(duckdb_message(exc, rename or {}), code="QUERY_FAILED") from exc
    finally:
        timer.cancel()
    return columns, table


def duckdb_message(exc: Exception | str, rename: dict[str, str]) -> str:
    """DuckDB's error in the user's terms: generated table names back to the names as written."""
    # drop DuckDB's "LINE 1: ..." excerpt: it quotes the rewritten SQL, not what the user sent
    message = re.split(r"\n\s*LINE \d+:", str(exc), maxsplit=1)[0].strip()
    for generated, original in rename.items():
        message = re.sub(rf"\b{re.escape(generated)}\b", original, message)
    return message


def run_sql(
    sql: str,
    tables: dict[str, ArrowData],
    *,
    limit: int | None,
    timeout_seconds: float,
    rename: dict[str, str] | None = None,
    params: list[Any] | None = None,
) -> tuple[list[Column], pa.Table]:
    """Execute already-checked SQL over ``tables`` (registered under their keys) on a locked connection,
    in this process: for checks and transforms, which run in their own task process."""
    connection = sandbox.locked_connection()
    try:
        for name, data in tables.items():
            connection.register(name, data.dataset if isinstance(data, ParquetFiles) else data)
        return _execute(
            connection, sql, limit=limit, timeout_seconds=timeout_seconds, rename=rename, params=params
        )
    finally:
        connection.close()


def validate_options(default_catalog: str | None, limit: int, timeout_seconds: float) -> None:
    if default_catalog is not None and (not isinstance(default_catalog, str) or not default_catalog.strip()):
        raise QueryError("catalog must be a non-empty string.", code="INVALID_CATALOG", field="catalog")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise QueryError("limit must be a positive integer.", code="INVALID_LIMIT", field="limit")
    if (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int | float)
        or timeout_seconds <= 0
    ):
        raise ValueError("timeout_seconds must be a positive number")


def resolve_tables(
    prepared: PreparedQuery, resolve: Resolver, *, collect: bool = True
) -> dict[str, ArrowData]:
    """Each table's data under its generated name; with ``collect``, a reader the query scans more than
    once is read into a table here (the sandbox does that in its own process instead)."""
    tables: dict[str, ArrowData] = {}
    for ref, name in prepared.names.items():
        data = resolve(ref)
        if collect and isinstance(data, pa.RecordBatchReader) and prepared.uses[ref] > 1:
            data = data.read_all()  # a reader can be scanned once; the query scans this table twice
        if not isinstance(data, pa.Table | ds.Dataset | pa.RecordBatchReader | ParquetFiles):
            raise TypeError(f"resolver returned {type(data).__name__} for {ref}; expected Arrow data")
        tables[name] = data
    return tables


def sandbox_error(
    exc: sandbox.SandboxError, limits: QueryLimits, timeout_seconds: float, rename: dict[str, str]
) -> QueryError:
    """Why the sandbox gave no result, in the caller's terms (table names as written, the option to raise)."""
    if exc.failure == "timeout":
        message = f"The query did not finish within {timeout_seconds:g} seconds."
        return QueryError(message, code="QUERY_TIMEOUT")
    if exc.failure == "memory":
        return QueryError(
            f"The query needs more memory than the {limits.memory_limit} one query may use; simplify it, "
            "or ask an administrator to raise [headrace] query_memory_limit.",
            code="QUERY_MEMORY_LIMIT",
        )
    if exc.failure == "result_too_large":
        return QueryError(
            f"The result is larger than {sandbox.MAX_RESULT_BYTES // 2**20} MiB; "
            "ask for fewer rows (limit) or fewer or smaller columns.",
            code="QUERY_RESULT_TOO_LARGE",
            field="limit",
        )
    if exc.failure == "no_result":
        return QueryError(exc.message, code="READ_ONLY")
    return QueryError(duckdb_message(exc.message, rename), code="QUERY_FAILED")
