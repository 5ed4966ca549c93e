"""The deployment's lakehouse, as configured in ``[headrace]`` (one instance per settings)."""

from __future__ import annotations

from headrace import config
from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.location import display_location, parent_folder
from headrace.lakehouse.service import Lakehouse


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
