"""LakehouseHook: DAG authors and the REST API reach the same catalogs through it.

Connection type ``headrace_lakehouse`` (form fields declared in ``get_provider_info``); every
field is optional and falls back to the ``[headrace]`` configuration, so ``LakehouseHook()``
without a connection opens the deployment's own lakehouse.

The lakehouse core (pyiceberg, deltalake, pyarrow, DuckDB) is imported when a hook first opens it,
not with this module: operators import the hook, and a DAG-parsing process that builds them must
not pay for the data libraries on every parse.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from headrace import config

if TYPE_CHECKING:
    from headrace.lakehouse.service import Lakehouse, LakehouseSettings


@functools.lru_cache(maxsize=16)
def _lakehouse(settings: LakehouseSettings) -> Lakehouse:
    from headrace.lakehouse.service import Lakehouse

    return Lakehouse(settings)


class LakehouseHook(BaseHook):
    conn_name_attr = "lakehouse_conn_id"
    default_conn_name = "headrace_lakehouse_default"
    conn_type = "headrace_lakehouse"
    hook_name = "Headrace Lakehouse"

    def __init__(self, lakehouse_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lakehouse_conn_id = lakehouse_conn_id

    def get_settings(self) -> LakehouseSettings:
        from headrace.lakehouse.service import LakehouseSettings
        from headrace.storage import s3_settings_from_connection

        extra: dict[str, Any] = {}
        if self.lakehouse_conn_id:
            extra = self.get_connection(self.lakehouse_conn_id).extra_dejson
        warehouse = extra.get("warehouse") or config.warehouse()
        storage_conn_id = extra.get("storage_conn_id") or config.storage_conn_id()
        s3 = s3_settings_from_connection(storage_conn_id) if storage_conn_id else None
        return LakehouseSettings(
            catalog_uri=extra.get("catalog_uri") or config.catalog_uri(), warehouse=warehouse, s3=s3
        )

    def get_conn(self) -> Lakehouse:
        return _lakehouse(self.get_settings())

    def test_connection(self) -> tuple[bool, str]:
        try:
            catalogs = self.get_conn().list_catalogs()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"Connected: {len(catalogs)} catalog(s)"
