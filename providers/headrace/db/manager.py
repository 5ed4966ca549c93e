"""The DB manager that ``airflow db migrate`` runs for Headrace's tables.

Declared under ``db-managers`` in :func:`headrace.get_provider_info.get_provider_info`, so Airflow
discovers it without any ``[database] external_db_managers`` setting.
"""

from __future__ import annotations

from pathlib import Path

from airflow.utils.db_manager import BaseDBManager

from headrace.db.models import metadata

_HERE = Path(__file__).parent


class HeadraceDBManager(BaseDBManager):
    metadata = metadata
    version_table_name = "alembic_version_headrace"
    migration_dir = (_HERE / "migrations").as_posix()
    alembic_file = (_HERE / "alembic.ini").as_posix()
    supports_table_dropping = True
    revision_heads_map = {
        "0.1.0": "b2c4d6e8f0a1",
        "0.2.0": "d4e6f8a0b2c3",
        "0.3.0": "e5f7a9b1c3d4",
        "0.4.0": "f6a8b0c2d4e5",
    }
