"""The interface every table format implements: schemas, tables, metadata, reads and writes."""

from __future__ import annotations

import abc
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as ds

from headrace.lakehouse.errors import NoSuchSchema, NoSuchTable
from headrace.lakehouse.location import Location
from headrace.lakehouse.models import CatalogInfo, TableMetadata

WriteMode = Literal["append", "overwrite"]


class FormatCatalog(abc.ABC):
    """A catalog of one table format. Names passed in are already validated."""

    def __init__(self, info: CatalogInfo, location: Location, catalog_uri: str) -> None:
        self.info = info
        self.location = location
        self.catalog_uri = catalog_uri

    @abc.abstractmethod
    def list_schemas(self) -> list[str]: ...

    @abc.abstractmethod
    def list_tables(self, schema: str) -> list[str]: ...

    @abc.abstractmethod
    def create_schema(self, schema: str) -> None: ...

    @abc.abstractmethod
    def table_metadata(self, schema: str, table: str) -> TableMetadata: ...

    @abc.abstractmethod
    def read(self, schema: str, table: str) -> pa.Table | ds.Dataset:
        """The table's current data, for queries (lazy where the format allows)."""

    @abc.abstractmethod
    def write(self, schema: str, table: str, data: pa.Table, mode: WriteMode = "append") -> None:
        """Write Arrow data in one commit, creating the table if missing."""

    @abc.abstractmethod
    def drop_table(self, schema: str, table: str) -> None: ...

    def drop_all(self) -> None:
        """Drop every table and schema, then the catalog's folder."""
        for schema in self.list_schemas():
            for table in self.list_tables(schema):
                self.drop_table(schema, table)
        self.location.delete()

    def table_count(self) -> int:
        return sum(len(self.list_tables(schema)) for schema in self.list_schemas())

    def _require_schema(self, schema: str) -> None:
        if schema not in self.list_schemas():
            raise NoSuchSchema(f"Schema '{schema}' not found in catalog '{self.info.name}'", field="schema")

    def _missing_table(self, schema: str, table: str) -> NoSuchTable:
        return NoSuchTable(f"Table '{self.info.name}.{schema}.{table}' not found", field="table")
