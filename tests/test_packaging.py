"""Headrace as an Airflow provider: metadata Airflow accepts, one plugin, migrations matching the models."""

from __future__ import annotations

import json

from headrace import __version__
from tests.conftest import airflow_cli


def test_provider_info_is_valid_for_airflow():
    from airflow.providers_manager import _create_provider_info_schema_validator

    from headrace.get_provider_info import get_provider_info

    _create_provider_info_schema_validator().validate(get_provider_info())


def test_every_config_option_is_documented_with_a_default():
    from headrace.get_provider_info import get_provider_info

    options = get_provider_info()["config"]["headrace"]["options"]
    assert {"storage_root", "catalog_uri", "warehouse", "default_engine"} <= options.keys()
    for name, option in options.items():
        assert option["description"].strip(), name
        assert option["default"] is not None, name


def test_airflow_lists_the_provider_and_loads_the_plugin_once(migrated_db):
    providers = json.loads(airflow_cli("providers", "list", "-o", "json"))
    plugins = json.loads(airflow_cli("plugins", "-o", "json"))

    assert "headrace" in [p["package_name"] for p in providers]
    assert [p["name"] for p in plugins].count("headrace") == 1
    assert "headrace_api" in str(next(p for p in plugins if p["name"] == "headrace")["flask_blueprints"])


def test_config_defaults_are_known_to_airflow():
    assert airflow_cli("config", "get-value", "headrace", "rate_limit").strip() == "100 per 15 minutes"
    assert airflow_cli("config", "get-value", "headrace", "default_engine").strip() == "arrow"


def test_migrations_create_exactly_the_models(migrated_db):
    """``airflow db migrate`` ran our DB manager; the migrated schema has nothing to autogenerate."""
    from airflow import settings
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from headrace.db.manager import HeadraceDBManager
    from headrace.db.models import metadata

    with settings.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": HeadraceDBManager.version_table_name, "compare_type": False}
        )
        ours = [diff for diff in compare_metadata(context, metadata) if _is_ours(diff)]
        revision = context.get_current_revision()

    assert ours == []
    assert revision == HeadraceDBManager.revision_heads_map[__version__]


def test_the_migration_files_build_the_same_schema_as_the_models(tmp_path):
    """Upgrading an empty database through the alembic files (not create_all) gives the models' schema."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from headrace.db.manager import HeadraceDBManager
    from headrace.db.models import metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    manager = HeadraceDBManager.__new__(HeadraceDBManager)
    alembic_config = manager.get_alembic_config()
    with engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, "head")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diffs = [diff for diff in compare_metadata(context, metadata) if _is_ours(diff)]

    assert diffs == []


def _is_ours(diff) -> bool:
    text = str(diff)
    return "headrace_" in text and "alembic_version" not in text


def test_the_lakehouse_connection_type_and_its_form_fields_are_registered():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hook = manager.hooks["headrace_lakehouse"]
    widgets = manager.connection_form_widgets

    assert hook.hook_class_name == "headrace.hooks.lakehouse.LakehouseHook"
    assert {"catalog_uri", "warehouse", "storage_conn_id"} <= {
        name.rsplit("__", 1)[1] for name in widgets if name.startswith("extra__headrace_lakehouse__")
    }
    assert widgets["extra__headrace_lakehouse__catalog_uri"].is_sensitive
