"""Query API: read-only SQL over the tables of every catalog (listed, not specified, by lakehouse-api)."""

from __future__ import annotations

from dataclasses import asdict

from headrace.api.datamodels.lakehouse import QueryColumn, QueryRequest, QueryResponse
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import asset
from headrace.api.services.api_keys import Scope
from headrace.api.services.lakehouse import lakehouse

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
    there were more) and 30 seconds. No file, URL or extension access."""
    result = lakehouse().query(
        body.sql, default_catalog=body.catalog, limit=body.limit, timeout_seconds=QUERY_TIMEOUT_SECONDS
    )
    return QueryResponse(
        columns=[QueryColumn(**asdict(c)) for c in result.columns],
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )
