"""What the lakehouse layer answers: plain dataclasses, shared by every table format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CatalogType(StrEnum):
    ICEBERG = "iceberg"
    DELTA = "delta"
    HIVE = "hive"


@dataclass(frozen=True)
class CatalogInfo:
    name: str
    type: CatalogType
    description: str
    properties: dict[str, str]
    location: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # SQL-style type name, the same words for every format (bigint, varchar, row(...)...)
    nullable: bool


@dataclass(frozen=True)
class PartitionField:
    column: str
    transform: str  # identity, day, month, year, hour, bucket[N], truncate[W]


@dataclass(frozen=True)
class TableMetadata:
    name: str
    schema: str
    catalog: str
    format: str  # iceberg, delta, parquet
    location: str
    columns: list[ColumnInfo]
    partitioning: list[PartitionField] = field(default_factory=list)
    version: str | None = None  # Iceberg snapshot id, Delta version; None for Hive-style tables
    row_count: int | None = None
    size_bytes: int | None = None
    file_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SchemaTree:
    name: str
    tables: list[str]
