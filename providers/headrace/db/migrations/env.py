"""Alembic environment for Headrace's tables; run by :class:`headrace.db.manager.HeadraceDBManager`."""

from __future__ import annotations

import contextlib

from airflow import settings
from alembic import context

from headrace.db.manager import HeadraceDBManager

config = context.config
target_metadata = HeadraceDBManager.metadata


def include_object(_, name, type_, *args):
    return not (type_ == "table" and name not in target_metadata.tables)


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,
        include_object=include_object,
        version_table=HeadraceDBManager.version_table_name,
        **kwargs,
    )


if context.is_offline_mode():
    _configure(url=settings.SQL_ALCHEMY_CONN, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with contextlib.ExitStack() as stack:
        connection = config.attributes.get("connection") or stack.enter_context(settings.engine.connect())
        _configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
