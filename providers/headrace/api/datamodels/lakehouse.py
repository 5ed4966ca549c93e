"""Catalog, table-metadata and query models (lakehouse-api)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from headrace.api.datamodels.common import FieldValueError, StrictModel
from headrace.lakehouse.models import CatalogType

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"


class CatalogCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    type: CatalogType
    description: str = Field("", max_length=1000)
    properties: dict[str, str] = Field(default_factory=dict)


class CatalogUpdate(StrictModel):
    description: str | None = Field(None, max_length=1000)
    properties: dict[str, str | None] | None = Field(
        None, description="Merged into the existing properties; a null value removes that property."
    )

    @model_validator(mode="after")
    def _something_to_update(self) -> CatalogUpdate:
        if self.description is None and self.properties is None:
            raise FieldValueError("body", "give description and/or properties to update")
        return self


class DeleteQuery(StrictModel):
    force: bool = Field(False, description="Also drop every table the catalog still holds.")


class CatalogSummary(BaseModel):
    name: str
    type: CatalogType
    description: str


class CatalogDetail(CatalogSummary):
    properties: dict[str, str]
    location: str = Field(
        description="Where the catalog keeps its tables, as a storage URI and never a server path: "
        "`s3://bucket/prefix/<name>` on S3, else relative to the storage root (`warehouse/<name>`)."
    )
    created_at: datetime
    updated_at: datetime


class CatalogCreated(BaseModel):
    name: str
    type: CatalogType
    message: str = "Catalog created successfully"


class Message(BaseModel):
    message: str


class CatalogDeleted(BaseModel):
    success: Literal[True] = True
    message: str = "Catalog deleted successfully"
    tables_dropped: int


class CatalogStatsOut(BaseModel):
    catalogName: str
    schemaCount: int
    tableCount: int


class TableNode(BaseModel):
    name: str
    type: Literal["TABLE"] = "TABLE"


class SchemaNode(BaseModel):
    name: str
    type: Literal["schema"] = "schema"
    tables: list[TableNode]


class ColumnOut(BaseModel):
    name: str
    type: str
    nullable: bool


class PartitionOut(BaseModel):
    column: str
    transform: str


class TableMetadataOut(BaseModel):
    name: str
    type: Literal["TABLE"] = "TABLE"
    catalog: str
    schema_name: str = Field(serialization_alias="schema")
    columns: list[ColumnOut]
    partitioning: list[PartitionOut]
    properties: dict[str, Any] = Field(
        description="format, location (a storage URI, as the catalog's `location`), version (Iceberg "
        "snapshot id or Delta version), row_count, "
        "size_bytes, file_count and format-specific extras."
    )


class QueryRequest(StrictModel):
    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT or WITH statement.")
    catalog: str | None = Field(
        None, pattern=NAME_PATTERN, description="Default catalog for two-part names (schema.table)."
    )
    limit: int = Field(
        1000, ge=1, le=10_000, description="Most rows returned; `truncated` says if more exist."
    )


class QueryColumn(BaseModel):
    name: str
    type: str


class QueryResponse(BaseModel):
    columns: list[QueryColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
