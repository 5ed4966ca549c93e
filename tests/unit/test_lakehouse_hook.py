"""LakehouseHook: a connection's fields win, the [headrace] configuration fills the rest."""

from __future__ import annotations

import json

import pyarrow as pa

from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.models import CatalogType


def test_without_a_connection_the_hook_uses_the_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")

    settings = LakehouseHook().get_settings()

    assert settings.catalog_uri == f"sqlite:///{tmp_path / 'c.db'}"
    assert settings.warehouse == str(tmp_path / "wh") and settings.s3 is None


def test_a_connection_points_the_hook_at_another_lakehouse(monkeypatch, tmp_path):
    extra = {"catalog_uri": f"sqlite:///{tmp_path / 'other.db'}", "warehouse": str(tmp_path / "other")}
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_LAKE", json.dumps({"conn_type": "headrace_lakehouse", "extra": extra})
    )

    hook = LakehouseHook(lakehouse_conn_id="my_lake")
    lakehouse = hook.get_conn()
    lakehouse.create_catalog("hooked", CatalogType.ICEBERG)
    lakehouse.write("hooked", "s", "t", pa.table({"x": [1, 2]}))

    assert hook.test_connection() == (True, "Connected: 1 catalog(s)")
    assert (tmp_path / "other" / "hooked").is_dir()
    assert lakehouse.table_metadata("hooked", "s", "t").row_count == 2


def test_a_broken_connection_reports_why(monkeypatch):
    extra = {"catalog_uri": "postgresql+psycopg2://nobody@127.0.0.1:1/none"}
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN", json.dumps({"conn_type": "headrace_lakehouse", "extra": extra}))

    ok, message = LakehouseHook(lakehouse_conn_id="broken").test_connection()

    assert ok is False and "OperationalError" in message
