"""Body and answer of ``POST /storage/recommend``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from headrace.api.datamodels.common import FieldValueError, StrictModel


class DataProfile(StrictModel):
    """What is known about the data; ``growth_rate`` as ``10GB/month``, ``500MB/day`` ..."""

    size_gb: float = Field(ge=0, le=10_000_000)
    growth_rate: str | None = Field(
        None, pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB)\s*/\s*(hour|day|week|month|year)\s*$"
    )
    access_pattern: Literal["write_heavy", "read_heavy", "balanced", "append_only", "update_heavy"] = (
        "balanced"
    )
    query_types: list[
        Literal["analytical", "time_series", "point_lookup", "full_scan", "streaming", "ml"]
    ] = Field(default_factory=list)
    row_count: int | None = Field(None, ge=0)
    time_column: str | None = Field(None, max_length=128)
    needs_updates: bool | None = None


class RecommendRequest(StrictModel):
    """Either ``data_profile``, or ``catalog`` + ``table`` (``schema.table``) of an existing lakehouse
    table."""

    data_profile: DataProfile | None = None
    catalog: str | None = Field(None, max_length=100)
    table: str | None = Field(None, max_length=300)

    @model_validator(mode="after")
    def _one(self) -> RecommendRequest:
        if self.data_profile is None and not (self.catalog and self.table):
            raise FieldValueError("data_profile", "give data_profile, or catalog and table")
        if self.data_profile is not None and (self.catalog or self.table):
            raise FieldValueError("catalog", "give data_profile or catalog/table, not both")
        return self


class Choice(BaseModel):
    """One recommendation and the rule behind it."""

    value: str
    reason: str


class StorageRecommendation(BaseModel):
    """Each choice with the rule that made it."""

    table_format: Choice
    partitioning: Choice
    target_file_size_mb: int
    target_file_size_reason: str
    compaction: Choice
    engine: Choice
    inputs: dict = Field(description="The profile the rules ran on (measured, for an existing table).")
