"""The lakehouse: named catalogs of Iceberg, Delta or Hive-style tables, their metadata and data.

Plain Python (no Flask, no Airflow): the REST API and the LakehouseHook both call this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.catalogs.hive import HiveCatalog
from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.lakehouse.errors import CatalogNotEmpty, LakehouseError, NoSuchCatalog
from headrace.lakehouse.location import Location, reserved_locations
from headrace.lakehouse.models import CatalogInfo, CatalogType, SchemaTree, TableMetadata
from headrace.lakehouse.names import validate_name
from headrace.lakehouse.registry import CatalogRegistry, catalog_engine
from headrace.lakehouse.sql import QueryLimits, QueryResult, TableNotFound, TableRef, run_query
from headrace.lakehouse.sql.model import ParquetFiles
from headrace.lakehouse.sql.scans import iceberg_data
from headrace.storage import ReservedLocation, S3Settings

_LISTED_CATALOGS = 10  # catalog names a "not found" lists at most

_FORMATS: dict[CatalogType, type[FormatCatalog]] = {
    CatalogType.ICEBERG: IcebergCatalog,
    CatalogType.DELTA: DeltaCatalog,
    CatalogType.HIVE: HiveCatalog,
}


@dataclass(frozen=True)
class LakehouseSettings:
    catalog_uri: str  # SQLAlchemy URI of the catalog database
    warehouse: str  # local folder or s3://bucket/prefix; each catalog gets <warehouse>/<name>
    s3: S3Settings | None = None  # credentials for s3:// warehouses


@dataclass(frozen=True)
class CatalogStats:
    catalog: str
    schema_count: int
    table_count: int


def lakehouse_locations(catalog_uri: str, warehouse: str) -> list[ReservedLocation]:
    """The reserved locations of the lakehouse of ``catalog_uri`` and ``warehouse``: the warehouse,
    every registered catalog's location (whatever warehouse it was created in) and the staging folder
    beside each (:func:`headrace.lakehouse.location.reserved_locations`). Needs no S3 credentials."""
    return reserved_locations(warehouse, CatalogRegistry(catalog_engine(catalog_uri)).locations())


def redacted_uri(uri: str) -> str:
    """``uri`` without its password (``postgresql://user:***@host/db``), for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", uri)


def _airflow_home() -> str:
    """The AIRFLOW_HOME this process runs with, as Airflow resolves it (``~/airflow`` when unset)."""
    home = os.environ.get("AIRFLOW_HOME")
    if home:
        return home
    return f"{os.path.expanduser('~/airflow')} (AIRFLOW_HOME is not set: Airflow's default)"


class Lakehouse:
    def __init__(self, settings: LakehouseSettings) -> None:
        self.settings = settings
        self.registry = CatalogRegistry(catalog_engine(settings.catalog_uri))

    # catalogs
    def list_catalogs(self) -> list[CatalogInfo]:
        return self.registry.list()

    def get_catalog(self, name: str) -> CatalogInfo:
        with self._pointing_somewhere():
            return self.registry.get(validate_name(name, "name"))

    @contextmanager
    def _pointing_somewhere(self) -> Iterator[None]:
        """A missing catalog says where it was looked for: the catalog database, the catalogs there
        and the AIRFLOW_HOME in use, the usual culprit when a script outside the deployment (a shell
        with another AIRFLOW_HOME, or none) opens an empty database of its own.

        Only ``str(exc)`` (what a LakehouseHook user's traceback shows) gets that; ``exc.message``,
        which the REST API answers with the code CATALOG_NOT_FOUND, stays "Catalog 'x' not found",
        so no path of the host reaches an API client.
        """
        try:
            yield
        except NoSuchCatalog as exc:
            if exc.args == (exc.message,):
                exc.args = (f"{exc.message} {self._where()}",)
            raise

    def _where(self) -> str:
        try:
            names = [info.name for info in self.registry.list()]
        except Exception:  # the database that just answered "not found" cannot list: say so
            listed = "cannot be listed"
        else:
            listed = ", ".join(names[:_LISTED_CATALOGS]) + (", ..." if len(names) > _LISTED_CATALOGS else "")
        return (
            f"in the catalog database {redacted_uri(self.settings.catalog_uri)} "
            f"(catalogs there: {listed or 'none'}; AIRFLOW_HOME: {_airflow_home()}). "
            "Outside the deployment, run with its AIRFLOW_HOME (or set [headrace] catalog_uri, "
            "AIRFLOW__HEADRACE__CATALOG_URI)."
        )

    def create_catalog(
        self,
        name: str,
        type: CatalogType,
        description: str = "",
        properties: dict[str, str] | None = None,
    ) -> CatalogInfo:
        validate_name(name, "name")
        location = Location(self.settings.warehouse, self.settings.s3).child(name)
        info = self.registry.add(
            name=name,
            type=CatalogType(type),
            description=description,
            properties=properties or {},
            location=location.uri,
        )
        try:
            location.ensure()
        except Exception:
            self.registry.remove(name)  # no catalog without a place for its tables
            raise
        return info

    def update_catalog(
        self, name: str, *, description: str | None = None, properties: dict[str, str | None] | None = None
    ) -> CatalogInfo:
        with self._pointing_somewhere():
            return self.registry.update(
                validate_name(name, "name"), description=description, properties=properties
            )

    def delete_catalog(self, name: str, *, force: bool = False) -> int:
        """Delete a catalog; refused while it holds tables unless ``force`` (then they are dropped).

        Returns the number of tables dropped.
        """
        catalog = self.open(name)
        tables = catalog.table_count()
        if tables and not force:
            raise CatalogNotEmpty(
                f"Catalog '{name}' still holds {tables} table(s); delete with force=true to drop them",
                field="force",
            )
        catalog.drop_all()
        self.registry.remove(name)
        return tables

    def reserved_locations(self) -> list[ReservedLocation]:
        """Where this lakehouse keeps table data and staged files, which uploads must not reach
        (see :func:`lakehouse_locations`)."""
        return reserved_locations(self.settings.warehouse, self.registry.locations())

    def open(self, name: str) -> FormatCatalog:
        info = self.get_catalog(name)
        return _FORMATS[info.type](info, Location(info.location, self.settings.s3), self.settings.catalog_uri)

    # browsing
    def stats(self, name: str) -> CatalogStats:
        catalog = self.open(name)
        schemas = catalog.list_schemas()
        return CatalogStats(name, len(schemas), sum(len(catalog.list_tables(s)) for s in schemas))

    def tree(self, name: str) -> list[SchemaTree]:
        catalog = self.open(name)
        return [SchemaTree(schema, catalog.list_tables(schema)) for schema in catalog.list_schemas()]

    def table_metadata(self, catalog: str, schema: str, table: str) -> TableMetadata:
        validate_name(schema, "schema")
        validate_name(table, "table")
        return self.open(catalog).table_metadata(schema, table)

    # data
    def read(self, catalog: str, schema: str, table: str) -> pa.Table | ds.Dataset:
        validate_name(schema, "schema")
        validate_name(table, "table")
        return self.open(catalog).read(schema, table)

    def write(self, catalog: str, schema: str, table: str, data: pa.Table, mode: str = "append") -> None:
        validate_name(schema, "schema")
        validate_name(table, "table")
        self.open(catalog).write(schema, table, data, mode)  # type: ignore[arg-type]

    def query(
        self,
        sql: str,
        *,
        default_catalog: str | None = None,
        limit: int = 1000,
        timeout_seconds: float = 30.0,
        limits: QueryLimits | None = None,
    ) -> QueryResult:
        """Read-only SQL over ``catalog.schema.table`` names of every catalog."""
        return run_query(
            sql,
            self._resolve,
            default_catalog=default_catalog,
            limit=limit,
            timeout_seconds=timeout_seconds,
            limits=limits,
        )

    def _resolve(self, ref: TableRef) -> pa.Table | ds.Dataset | pa.RecordBatchReader | ParquetFiles:
        try:
            catalog = self.open(ref.catalog)
            if isinstance(catalog, IcebergCatalog):  # its current data files, not the table read whole
                table = catalog.load(validate_name(ref.schema, "schema"), validate_name(ref.table, "table"))
                return iceberg_data(table, catalog.location)
            data = self.read(ref.catalog, ref.schema, ref.table)
            delta = isinstance(self.open(ref.catalog), DeltaCatalog)
        except (LakehouseError, ValueError) as exc:
            # the lakehouse's own message: the REST query answers it (never the catalog database)
            reason = exc.message if isinstance(exc, LakehouseError) else exc
            raise TableNotFound(f"Table {ref} not found: {reason}") from exc
        if delta and isinstance(data, ds.Dataset):
            # delta-rs merges write string_view columns, and pyarrow cannot filter them against the
            # table's string type: scan without filter pushdown (batches come in the table's types).
            return data.scanner().to_reader()
        return data
