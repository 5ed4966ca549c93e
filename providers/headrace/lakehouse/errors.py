"""Errors of the lakehouse layer; each carries a stable code and the request field at fault."""

from __future__ import annotations


class LakehouseError(Exception):
    code = "LAKEHOUSE_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NoSuchCatalog(LakehouseError):
    code = "CATALOG_NOT_FOUND"


class NoSuchSchema(LakehouseError):
    code = "SCHEMA_NOT_FOUND"


class NoSuchTable(LakehouseError):
    code = "TABLE_NOT_FOUND"


class CatalogAlreadyExists(LakehouseError):
    code = "CATALOG_EXISTS"


class CatalogNotEmpty(LakehouseError):
    code = "CATALOG_NOT_EMPTY"
