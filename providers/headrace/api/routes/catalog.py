"""Catalog API (lakehouse-api): catalogs, their stats and tree, table metadata, and table snapshots."""

from __future__ import annotations

from dataclasses import asdict

from headrace.api.datamodels.lakehouse import (
    CatalogCreate,
    CatalogCreated,
    CatalogDeleted,
    CatalogDetail,
    CatalogStatsOut,
    CatalogSummary,
    CatalogUpdate,
    ColumnOut,
    DeleteQuery,
    Message,
    PartitionOut,
    SchemaNode,
    SnapshotOut,
    SnapshotsQuery,
    TableMetadataOut,
    TableNode,
    TableSnapshotsOut,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, asset
from headrace.api.services.lakehouse import lakehouse, public_location, snapshots

_NS = Namespace.CATALOG
READ = asset("GET", Scope.READ)


@endpoint("/catalog", "GET", _NS, summary="List catalogs", permission=READ, response=list[CatalogSummary])
def list_catalogs():
    return [
        CatalogSummary(name=c.name, type=c.type, description=c.description)
        for c in lakehouse().list_catalogs()
    ]


@endpoint(
    "/catalog",
    "POST",
    _NS,
    summary="Create a catalog (iceberg, delta or hive)",
    permission=asset("POST", Scope.WRITE),
    body=CatalogCreate,
    response=CatalogCreated,
    status=201,
    errors=(409,),
)
def create_catalog(body: CatalogCreate):
    """The catalog gets a folder ``<warehouse>/<name>`` for its tables."""
    info = lakehouse().create_catalog(body.name, body.type, body.description, body.properties)
    return CatalogCreated(name=info.name, type=info.type)


@endpoint(
    "/catalog/<name>",
    "GET",
    _NS,
    summary="Catalog details",
    permission=READ,
    response=CatalogDetail,
    errors=(404,),
)
def get_catalog(name: str):
    """``location`` is a storage URI, never a server path: ``s3://bucket/prefix/<name>`` on S3, else
    relative to the storage root, e.g. ``warehouse/<name>`` (see docs/api.md)."""
    info = lakehouse().get_catalog(name)
    fields = {k: v for k, v in asdict(info).items() if k in CatalogDetail.model_fields}
    return CatalogDetail(**{**fields, "location": public_location(info.location, info.location)})


@endpoint(
    "/catalog/<name>",
    "PATCH",
    _NS,
    summary="Update a catalog's description and properties",
    permission=asset("PUT", Scope.WRITE),
    body=CatalogUpdate,
    response=Message,
    errors=(404,),
)
def update_catalog(name: str, body: CatalogUpdate):
    """At least one of ``description`` and ``properties``; an empty body is a 400."""
    lakehouse().update_catalog(name, description=body.description, properties=body.properties)
    return Message(message="Catalog updated successfully")


@endpoint(
    "/catalog/<name>",
    "DELETE",
    _NS,
    summary="Delete a catalog",
    permission=asset("DELETE", Scope.WRITE),
    query=DeleteQuery,
    response=CatalogDeleted,
    errors=(404, 409),
)
def delete_catalog(name: str, query: DeleteQuery):
    """Refused with 409 ``CATALOG_NOT_EMPTY`` while the catalog holds tables, unless ``?force=true``:
    then its tables are dropped (data and metadata) before the catalog is removed."""
    dropped = lakehouse().delete_catalog(name, force=query.force)
    return CatalogDeleted(tables_dropped=dropped)


@endpoint(
    "/catalog/<name>/stats",
    "GET",
    _NS,
    summary="Schema and table counts of a catalog",
    permission=READ,
    response=CatalogStatsOut,
    errors=(404,),
)
def catalog_stats(name: str):
    stats = lakehouse().stats(name)
    return CatalogStatsOut(
        catalogName=stats.catalog, schemaCount=stats.schema_count, tableCount=stats.table_count
    )


@endpoint(
    "/catalog/<name>/tree",
    "GET",
    _NS,
    summary="Schemas and tables of a catalog",
    permission=READ,
    response=list[SchemaNode],
    errors=(404,),
)
def catalog_tree(name: str):
    return [
        SchemaNode(name=node.name, tables=[TableNode(name=table) for table in node.tables])
        for node in lakehouse().tree(name)
    ]


@endpoint(
    "/catalog/<catalog>/schema/<schema>/table/<table>/metadata",
    "GET",
    _NS,
    summary="Columns, partitioning, format, location, version, row count and size of a table",
    permission=READ,
    response=TableMetadataOut,
    errors=(404,),
)
def table_metadata(catalog: str, schema: str, table: str):
    """``properties.location`` is shown as the catalog's ``location`` is (a storage URI)."""
    house = lakehouse()
    meta = house.table_metadata(catalog, schema, table)
    properties = {
        "format": meta.format,
        "location": public_location(meta.location, house.get_catalog(catalog).location),
        "version": meta.version,
        "row_count": meta.row_count,
        "size_bytes": meta.size_bytes,
        "file_count": meta.file_count,
        **meta.extra,
    }
    return TableMetadataOut(
        name=meta.name,
        catalog=meta.catalog,
        schema_name=meta.schema,
        columns=[ColumnOut(**asdict(c)) for c in meta.columns],
        partitioning=[PartitionOut(**asdict(p)) for p in meta.partitioning],
        properties=properties,
    )


@endpoint(
    "/catalog/<catalog>/schema/<schema>/table/<table>/snapshots",
    "GET",
    _NS,
    summary="Snapshots or versions of a table, with the job that wrote each (Headrace extension)",
    permission=READ,
    query=SnapshotsQuery,
    response=TableSnapshotsOut,
    errors=(404,),
)
def table_snapshots(catalog: str, schema: str, table: str, query: SnapshotsQuery):
    """Beyond the contract: Iceberg snapshots (the current snapshot's ancestry), Delta versions (the
    commit files `_delta_log` still holds) or Hive-style commits, newest first, read from the table's
    own commit metadata, where every Headrace write records its job id."""
    history = snapshots(catalog, schema, table, limit=query.limit)
    return TableSnapshotsOut(
        catalog=catalog,
        schema_name=schema,
        table=table,
        format=history.format,
        current_version=history.current_version,
        snapshots=[SnapshotOut(**asdict(change)) for change in history.changes],
        truncated=history.truncated,
    )
