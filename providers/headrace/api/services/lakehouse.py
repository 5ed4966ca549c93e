"""The deployment's lakehouse, as configured in ``[headrace]`` (one instance per settings)."""

from __future__ import annotations

from headrace import config
from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.location import display_location, parent_folder
from headrace.lakehouse.names import validate_name
from headrace.lakehouse.service import Lakehouse
from headrace.lakehouse.tables.history import TableHistory, table_history


def lakehouse() -> Lakehouse:
    return LakehouseHook().get_conn()


def public_location(uri: str, catalog_location: str | None = None) -> str:
    """A catalog's or table's location as the API shows it: never an absolute server path.

    ``s3://bucket/prefix/...`` stays as it is. A local folder is shown relative to
    ``[headrace] storage_root`` when it is inside it (the default warehouse: ``warehouse/<catalog>``,
    i.e. the bucket and key of the local storage), else from the name of the warehouse folder that
    holds it (``<warehouse folder>/<catalog>/...``, for the configured warehouse and for the one a
    catalog was created in). The lakehouse itself and the LakehouseHook keep the absolute locations.
    """
    roots = [str(config.storage_root())]
    for folder in (parent_folder(lakehouse().settings.warehouse), _warehouse_of(catalog_location)):
        if folder:
            roots.append(folder)
    return display_location(uri, roots)


def _warehouse_of(catalog_location: str | None) -> str | None:
    """The folder holding the warehouse folder a catalog was created in (a catalog is
    ``<warehouse>/<name>``)."""
    warehouse = parent_folder(catalog_location) if catalog_location else None
    return parent_folder(warehouse) if warehouse else None


def snapshots(catalog: str, schema: str, table: str, *, limit: int) -> TableHistory:
    """The table's snapshots or versions, newest first, with the job that wrote each."""
    validate_name(schema, "schema")
    validate_name(table, "table")
    return table_history(lakehouse().open(catalog), schema, table, limit=limit)
