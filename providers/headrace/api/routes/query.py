"""Query API: read-only SQL over the tables of every catalog (listed, not specified, by lakehouse-api)."""

from __future__ import annotations

from dataclasses import asdict

from headrace import config
from headrace.api.datamodels.lakehouse import QueryColumn, QueryRequest, QueryResponse
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, asset
from headrace.api.services.lakehouse import lakehouse
from headrace.lakehouse.sql import QueryLimits

QUERY_TIMEOUT_SECONDS = 30.0


@endpoint(
    "/query",
    "POST",
    Namespace.QUERY,
    summary="Run one read-only SQL statement over catalog tables",
    permission=asset("GET", Scope.READ),
    body=QueryRequest,
    response=QueryResponse,
)
def run_query(body: QueryRequest):
    """One ``SELECT`` or ``WITH`` statement (checked with sqlglot; anything else is a 400), over tables
    named ``catalog.schema.table`` (or ``schema.table`` with ``catalog``), executed by DuckDB on Arrow
    data read by pyiceberg, deltalake or pyarrow. At most ``limit`` rows (``truncated`` tells whether
    there were more) and 30 seconds. No file, URL or extension access. DuckDB runs in a child process with
    ``[headrace] query_memory_limit`` and ``query_threads``, killed at the timeout; a query past a limit
    is a 400 ``QUERY_TIMEOUT``, ``QUERY_MEMORY_LIMIT`` or ``QUERY_RESULT_TOO_LARGE``."""
    limits = QueryLimits(memory_limit=config.query_memory_limit(), threads=config.query_threads())
    result = lakehouse().query(
        body.sql,
        default_catalog=body.catalog,
        limit=body.limit,
        timeout_seconds=QUERY_TIMEOUT_SECONDS,
        limits=limits,
    )
    return QueryResponse(
        columns=[QueryColumn(**asdict(c)) for c in result.columns],
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )
