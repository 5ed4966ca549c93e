"""Bodies and answers of ``POST /data/profile`` and ``GET /data/preview``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from headrace.api.datamodels.common import StrictModel

TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"


class ProfileRequest(StrictModel):
    """``source``: a data source (Airflow connection id) or a lakehouse catalog; ``table``: ``table`` or
    ``schema.table``, looked up in the source's catalog."""

    source: str = Field(min_length=1, max_length=250)
    table: str = Field(min_length=1, max_length=300, pattern=TABLE_PATTERN)
    sample_size: int = Field(1000, ge=1, le=100_000)


class PreviewQuery(StrictModel):
    """``GET /data/preview``."""

    source: str = Field(min_length=1, max_length=250)
    table: str = Field(min_length=1, max_length=300, pattern=TABLE_PATTERN)
    limit: int = Field(100, ge=1, le=1000)


class ColumnProfileView(BaseModel):
    """One column: declared ``nullable``, observed ``null_count``, and ``unique`` with its basis."""

    name: str
    type: str
    nullable: bool
    null_count: int
    unique: bool | None
    unique_basis: str = Field(description="declared, full_table, sample or not_comparable")
    distinct_count: int | None = None


class ProfileStatistics(BaseModel):
    """Percentages over the rows examined (``basis``); ``size_mb`` from the database."""

    null_percentage: float
    duplicate_percentage: float | None
    size_mb: float | None
    basis: str
    rows_examined: int


class RecommendationReason(BaseModel):
    """One recommendation of a profile and why."""

    recommendation: str
    column: str | None = None
    value: str
    reason: str


class ProfileRecommendations(BaseModel):
    """Partitioning and index candidates; ``reasons`` gives the rule for each."""

    partitioning: str
    partition_column: str | None = None
    indexing: list[str]
    reasons: list[RecommendationReason]


class ProfileResponse(BaseModel):
    """The answer to ``POST /data/profile``."""

    source: str
    table: str
    row_count: int
    columns: list[ColumnProfileView]
    statistics: ProfileStatistics
    recommendations: ProfileRecommendations


class PreviewResponse(BaseModel):
    """The first ``limit`` rows of the table, in the source's order."""

    source: str
    table: str
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
