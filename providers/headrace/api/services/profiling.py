"""``POST /data/profile`` and ``GET /data/preview`` over SQL data sources and lakehouse tables.

``source`` names a data source (an Airflow connection with a SQL hook) or a lakehouse catalog; a name
that is both is the data source. ``table`` is checked against the source's catalog before anything
reads it: an unknown table is a 400 naming ``table``, an unknown source a 404.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from headrace.api.datamodels.data import (
    ColumnProfileView,
    PreviewResponse,
    ProfileRecommendations,
    ProfileResponse,
    ProfileStatistics,
    RecommendationReason,
)
from headrace.api.errors import NotFound, RequestValidationError
from headrace.api.services import data_sources
from headrace.api.services.lakehouse import lakehouse
from headrace.lakehouse import errors as lakehouse_errors
from headrace.sources import catalog, profiling


def _is_catalog(name: str) -> bool:
    try:
        lakehouse().get_catalog(name)
        return True
    except (lakehouse_errors.NoSuchCatalog, Exception):
        return False


def _kind(source: str) -> str:
    try:
        data_sources.get_connection(source)
        return "connection"
    except NotFound:
        if _is_catalog(source):
            return "catalog"
        raise NotFound(
            f"No data source or catalog named '{source}'",
            code="DATA_SOURCE_NOT_FOUND",
            details={"source": source},
        ) from None


def _bad_table(message: str) -> RequestValidationError:
    return RequestValidationError.for_field("table", message)


def _resolve(connection: Connection, table: str) -> catalog.TableInfo:
    """The table as the source's own catalog names it; a 400 naming ``table`` when it has none."""
    try:
        return catalog.resolve_table(connection, table)
    except catalog.UnknownTable as exc:
        raise _bad_table(str(exc)) from None


def profile(source: str, table: str, sample_size: int) -> ProfileResponse:
    if _kind(source) == "catalog":
        result = _lakehouse_profile(source, table, sample_size)
    else:
        with data_sources.sql_connection(source) as (_, connection):
            result = profiling.profile_sql(connection, _resolve(connection, table), sample_size)
    return _view(source, table, result)


def preview(source: str, table: str, limit: int) -> PreviewResponse:
    if _kind(source) == "catalog":
        columns, rows = profiling.preview_arrow(_lakehouse_data(source, table, limit)[0], limit)
    else:
        with data_sources.sql_connection(source) as (_, connection):
            columns, rows = profiling.preview_sql(connection, _resolve(connection, table), limit)
    return PreviewResponse(source=source, table=table, columns=columns, rows=rows, row_count=len(rows))


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    if not schema:
        raise _bad_table("a lakehouse table is named schema.table")
    return schema, name


def _lakehouse_data(catalog_name: str, table: str, wanted: int):
    """``(data, row_count, size_bytes)``: the whole table up to FULL_SCAN_ROWS rows, else ``wanted`` rows."""
    import pyarrow.dataset as ds

    schema, name = _split(table)
    service = lakehouse()
    tree = {s.name: s.tables for s in service.tree(catalog_name)}
    if name not in tree.get(schema, []):
        known = [f"{s}.{t}" for s, tables in tree.items() for t in tables]
        raise _bad_table(
            f"no table '{table}' in catalog '{catalog_name}'; known: {', '.join(known) or 'none'}"
        )
    metadata = service.table_metadata(catalog_name, schema, name)
    data = service.read(catalog_name, schema, name)
    if isinstance(data, ds.Dataset):
        rows = data.count_rows()
        data = data.to_table() if rows <= profiling.FULL_SCAN_ROWS else data.head(wanted)
    else:
        rows = data.num_rows
        if rows > profiling.FULL_SCAN_ROWS:
            data = data.slice(0, wanted)
    return data, rows, metadata.size_bytes


def _lakehouse_profile(catalog_name: str, table: str, sample_size: int) -> profiling.Profile:
    data, rows, size = _lakehouse_data(catalog_name, table, sample_size)
    return profiling.profile_arrow(data, rows, size, sample_size)


def _view(source: str, table: str, result: profiling.Profile) -> ProfileResponse:
    partition = next((r for r in result.recommendations if r.recommendation == "partitioning"), None)
    indexes = [r for r in result.recommendations if r.recommendation == "index"]
    return ProfileResponse(
        source=source,
        table=table,
        row_count=result.row_count,
        columns=[ColumnProfileView(**vars(c)) for c in result.columns],
        statistics=ProfileStatistics(
            null_percentage=result.null_percentage,
            duplicate_percentage=result.duplicate_percentage,
            size_mb=result.size_mb,
            basis=result.basis,
            rows_examined=result.rows_examined,
        ),
        recommendations=ProfileRecommendations(
            partitioning=partition.value if partition else "none",
            partition_column=partition.column if partition else None,
            indexing=[r.value for r in indexes],
            reasons=[RecommendationReason(**vars(r)) for r in result.recommendations],
        ),
    )
