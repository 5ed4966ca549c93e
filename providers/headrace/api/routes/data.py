"""Data operations (pipelines-api "Data Operations"): profile and preview a table of a data source or
of a lakehouse catalog.

Permission: reading a table's contents through a connection is reading the connection's data, so
both need ``connections: GET``; lakehouse tables are assets and need ``assets: GET`` as well.
"""

from __future__ import annotations

from headrace.api.datamodels.data import PreviewQuery, PreviewResponse, ProfileRequest, ProfileResponse
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, connection
from headrace.api.services import profiling as service

_NS = Namespace.CONNECTORS
_502 = {502: "DATA_SOURCE_ERROR: the source's database could not be reached"}


@endpoint(
    "/data/profile",
    "POST",
    _NS,
    summary="Profile a table: exact row count, columns, statistics, recommendations",
    permission=connection("GET", Scope.READ),
    body=ProfileRequest,
    response=ProfileResponse,
    errors=(400, 404),
    extra_responses=_502,
)
def profile_table(body: ProfileRequest):
    """``row_count`` is exact (from the database). Null, distinct and duplicate figures cover the whole
    table up to 1,000,000 rows, else a sample of ``sample_size`` rows (``statistics.basis``);
    ``unique`` is the declared constraint or what that basis proves (``unique_basis``).
    ``recommendations`` give a partitioning scheme for the time column and index candidates, each
    with its reason. An unknown ``table`` is a 400, an unknown ``source`` a 404, an unreachable one 502."""
    return service.profile(body.source, body.table, body.sample_size)


@endpoint(
    "/data/preview",
    "GET",
    _NS,
    summary="The first rows of a table",
    permission=connection("GET", Scope.READ),
    query=PreviewQuery,
    response=PreviewResponse,
    errors=(400, 404),
    extra_responses=_502,
)
def preview_table(query: PreviewQuery):
    return service.preview(query.source, query.table, query.limit)
