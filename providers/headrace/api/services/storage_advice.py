"""``POST /storage/recommend``: the rules of :mod:`headrace.lakehouse.advice` over a given profile, or
over an existing lakehouse table's real statistics (size, row count, format, time column)."""

from __future__ import annotations

from dataclasses import asdict

from headrace.api.datamodels.storage import Choice, RecommendRequest, StorageRecommendation
from headrace.api.errors import RequestValidationError
from headrace.api.services.lakehouse import lakehouse
from headrace.lakehouse import advice
from headrace.sources.recommend import time_column


def recommend(body: RecommendRequest) -> StorageRecommendation:
    if body.data_profile is not None:
        p = body.data_profile
        try:
            growth = advice.growth_per_month(p.growth_rate)
        except ValueError as exc:
            raise RequestValidationError.for_field("data_profile.growth_rate", str(exc)) from None
        profile = advice.Profile(
            size_gb=p.size_gb,
            growth_gb_per_month=growth,
            access_pattern=p.access_pattern,
            query_types=list(p.query_types),
            time_column=p.time_column,
            needs_updates=bool(p.needs_updates),
            row_count=p.row_count,
        )
    else:
        profile = _from_table(body.catalog or "", body.table or "")
    result = advice.recommend(profile)
    inputs = asdict(profile)
    return StorageRecommendation(
        table_format=Choice(value=result.table_format[0], reason=result.table_format[1]),
        partitioning=Choice(value=result.partitioning[0], reason=result.partitioning[1]),
        target_file_size_mb=result.target_file_size_mb[0],
        target_file_size_reason=result.target_file_size_mb[1],
        compaction=Choice(value=result.compaction[0], reason=result.compaction[1]),
        engine=Choice(value=result.engine[0], reason=result.engine[1]),
        inputs=inputs,
    )


def _from_table(catalog: str, table: str) -> advice.Profile:
    schema, _, name = table.rpartition(".")
    if not schema:
        raise RequestValidationError.for_field("table", "a lakehouse table is named schema.table")
    metadata = lakehouse().table_metadata(catalog, schema, name)  # NoSuchCatalog/NoSuchTable: 404
    size_gb = (metadata.size_bytes or 0) / 1024**3
    return advice.Profile(
        size_gb=round(size_gb, 6),
        access_pattern="balanced",
        query_types=[],
        time_column=time_column([(c.name, c.type) for c in metadata.columns]),
        row_count=metadata.row_count,
        current_format=metadata.format,
    )
