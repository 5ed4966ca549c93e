"""Catalog, table-metadata and query models (lakehouse-api)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from headrace.api.datamodels.common import FieldValueError, StrictModel
from headrace.lakehouse.models import CatalogType

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"


class CatalogCreate(StrictModel):
    """A new catalog: its name, type, description and properties."""

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    type: CatalogType
    description: str = Field("", max_length=1000)
    properties: dict[str, str] = Field(default_factory=dict)


class CatalogUpdate(StrictModel):
    """Changes to a catalog's description and/or properties."""

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
    """Query parameters of DELETE /catalog/{name}."""

    force: bool = Field(False, description="Also drop every table the catalog still holds.")


class CatalogSummary(BaseModel):
    """A catalog as listed: name, type and description."""

    name: str
    type: CatalogType
    description: str


class CatalogDetail(CatalogSummary):
    """A catalog with its properties, location and timestamps."""

    properties: dict[str, str]
    location: str = Field(
        description="Where the catalog keeps its tables, as a storage URI and never a server path: "
        "`s3://bucket/prefix/<name>` on S3, else relative to the storage root (`warehouse/<name>`)."
    )
    created_at: datetime
    updated_at: datetime


class CatalogCreated(BaseModel):
    """Answer to creating a catalog."""

    name: str
    type: CatalogType
    message: str = "Catalog created successfully"


class Message(BaseModel):
    """An answer that only carries a message."""

    message: str


class CatalogDeleted(BaseModel):
    """Answer to deleting a catalog, with the number of tables dropped."""

    success: Literal[True] = True
    message: str = "Catalog deleted successfully"
    tables_dropped: int


class CatalogStatsOut(BaseModel):
    """How many schemas and tables a catalog holds."""

    catalogName: str
    schemaCount: int
    tableCount: int


class TableNode(BaseModel):
    """A table in a catalog's tree of schemas and tables."""

    name: str
    type: Literal["TABLE"] = "TABLE"


class SchemaNode(BaseModel):
    """A schema in a catalog's tree, with its tables."""

    name: str
    type: Literal["schema"] = "schema"
    tables: list[TableNode]


class ColumnOut(BaseModel):
    """A column of a table: name, type and nullability."""

    name: str
    type: str
    nullable: bool


class PartitionOut(BaseModel):
    """A partition field of a table: the column and its transform."""

    column: str
    transform: str


class TableMetadataOut(BaseModel):
    """A table's columns, partitioning and storage properties."""

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


class SnapshotsQuery(StrictModel):
    """Query parameters of GET .../table/{table}/snapshots."""

    limit: int = Field(100, ge=1, le=1000, description="Most snapshots returned, newest first.")


class SnapshotOut(BaseModel):
    """One Iceberg snapshot, Delta version or Hive-style commit, with the job that wrote it."""

    version: str = Field(description="Iceberg snapshot id, Delta version or Hive-style commit sequence.")
    parent_version: str | None
    committed_at: datetime | None
    operation: str = Field(
        description="The format's own word: Iceberg append, delete, overwrite or replace; Delta "
        "`write (append)`, `write (overwrite)`, merge, ...; Hive-style the write mode."
    )
    rows_added: int | None = Field(description="null where the format does not record it.")
    rows_deleted: int | None = Field(description="null where the format does not record it.")
    total_rows: int | None = Field(description="Rows after the snapshot (Iceberg only).")
    job_id: str | None = Field(
        description="The Headrace job that wrote it (an ingestion job's id); null for other writers."
    )
    write_mode: str | None = Field(description="The job's append, overwrite or merge.")


class TableSnapshotsOut(BaseModel):
    """A table's history as the table itself records it (Headrace extension)."""

    catalog: str
    schema_name: str = Field(serialization_alias="schema")
    table: str
    format: str
    current_version: str | None
    snapshots: list[SnapshotOut] = Field(description="Newest first.")
    truncated: bool = Field(description="Older snapshots exist beyond `limit`.")


class QueryRequest(StrictModel):
    """A read-only SQL query over the lakehouse's tables."""

    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT or WITH statement.")
    catalog: str | None = Field(
        None, pattern=NAME_PATTERN, description="Default catalog for two-part names (schema.table)."
    )
    limit: int = Field(
        1000, ge=1, le=10_000, description="Most rows returned; `truncated` says if more exist."
    )


class QueryColumn(BaseModel):
    """A column of a query's result: name and type."""

    name: str
    type: str


class QueryResponse(BaseModel):
    """The rows a query returned, its columns and how long it took."""

    columns: list[QueryColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
