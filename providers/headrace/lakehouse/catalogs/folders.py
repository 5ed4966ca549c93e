"""Catalogs kept as folders: ``<catalog location>/<schema>/<table>/`` (Delta and Hive-style Parquet)."""

from __future__ import annotations

import abc

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.location import Location


class FolderCatalog(FormatCatalog, abc.ABC):
    def list_schemas(self) -> list[str]:
        return self.location.subfolders()

    def list_tables(self, schema: str) -> list[str]:
        self._require_schema(schema)
        return [name for name in self.location.child(schema).subfolders() if self._is_table(schema, name)]

    def create_schema(self, schema: str) -> None:
        self.location.child(schema).ensure()

    def drop_table(self, schema: str, table: str) -> None:
        self.table_location(schema, table).delete()

    def table_location(self, schema: str, table: str) -> Location:
        """Where an existing table lives (NoSuchSchema / NoSuchTable otherwise)."""
        self._require_schema(schema)
        location = self.location.child(schema, table)
        if not self._is_table(schema, table):
            raise self._missing_table(schema, table)
        return location

    @abc.abstractmethod
    def _is_table(self, schema: str, table: str) -> bool: ...
