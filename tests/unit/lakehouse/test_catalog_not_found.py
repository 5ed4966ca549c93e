"""A missing catalog says where it was looked for, to a LakehouseHook user; the REST API does not.

The newcomer's trap: a script run from a shell with another AIRFLOW_HOME (or none) opens an empty
catalog database of its own and fails with "Catalog 'iceberg_data' not found". The traceback must
name that database (password hidden) and the AIRFLOW_HOME in use; the REST API's answer stays the
contract's code and message, with no path of the host.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.errors import NoSuchCatalog
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.registry import catalog_engine as engine_of
from headrace.lakehouse.service import Lakehouse, LakehouseSettings, redacted_uri
from tests.conftest import BASE
from tests.postgres import temporary_database


def test_the_hook_names_the_catalog_database_and_airflow_home(monkeypatch, tmp_path):
    home = tmp_path / "wrong-home"
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{home / 'headrace' / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "wh"))
    (home / "headrace").mkdir(parents=True)

    lakehouse = LakehouseHook().get_conn()
    lakehouse.create_catalog("other_lake", CatalogType.ICEBERG)
    with pytest.raises(NoSuchCatalog) as raised:
        lakehouse.write("iceberg_data", "sales", "transactions", pa.table({"x": [1]}))

    text = str(raised.value)
    assert text.startswith("Catalog 'iceberg_data' not found in the catalog database ")
    assert f"sqlite:///{home / 'headrace' / 'catalog.db'}" in text
    assert "catalogs there: other_lake" in text
    assert f"AIRFLOW_HOME: {home}" in text
    assert raised.value.message == "Catalog 'iceberg_data' not found"  # what the REST API answers
    assert raised.value.code == "CATALOG_NOT_FOUND"


def test_a_password_in_the_catalog_uri_is_not_shown(monkeypatch):
    assert redacted_uri("postgresql+psycopg2://loader:s3cret@db.example.com:5432/catalog") == (
        "postgresql+psycopg2://loader:***@db.example.com:5432/catalog"
    )
    assert "s3cret" not in redacted_uri("not a url://loader:s3cret@host/x")


def test_a_catalog_database_behind_a_connection_is_named_without_its_password(monkeypatch, tmp_path):
    """A headrace_lakehouse connection's catalog_uri may hold a password (PostgreSQL here, trust
    auth, so any password connects): the message names the database and hides the password."""
    with temporary_database("headrace_notfound") as url:
        uri = url.replace("postgres@", "postgres:s3cret@")
        extra = {"catalog_uri": uri, "warehouse": str(tmp_path / "wh")}
        monkeypatch.setenv(
            "AIRFLOW_CONN_SECRET_LAKE", json.dumps({"conn_type": "headrace_lakehouse", "extra": extra})
        )
        with pytest.raises(NoSuchCatalog) as raised:
            LakehouseHook(lakehouse_conn_id="secret_lake").get_conn().get_catalog("missing")
        engine_of(uri).dispose()  # the hook's engine, before the database is dropped

    text = str(raised.value)
    assert uri.replace(":s3cret@", ":***@") in text and "s3cret" not in text
    assert "catalogs there: none" in text


def test_without_airflow_home_the_message_says_airflow_s_default(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    lakehouse = Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=str(tmp_path / "wh"))
    )
    with pytest.raises(NoSuchCatalog, match=r"AIRFLOW_HOME is not set: Airflow's default"):
        lakehouse.update_catalog("missing", description="x")


def test_the_rest_api_answers_the_contract_message_without_paths(client, admin_headers, airflow_home):
    missing = client.get(f"{BASE}/catalog/iceberg_nowhere/tree", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json["code"] == "CATALOG_NOT_FOUND"
    assert missing.json["error"] == "Catalog 'iceberg_nowhere' not found"

    query = client.post(
        f"{BASE}/query", headers=admin_headers, json={"sql": "select count(*) from iceberg_nowhere.s.t"}
    )
    assert query.status_code == 400 and query.json["code"] == "TABLE_NOT_FOUND"
    for answer in (missing, query):
        text = answer.get_data(as_text=True)
        assert str(airflow_home) not in text and "catalog database" not in text and "sqlite" not in text
