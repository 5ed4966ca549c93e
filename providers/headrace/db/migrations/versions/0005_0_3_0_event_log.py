"""The event log: events, the jobs and subjobs they describe, monitoring sites, webhooks and their outbox.

Revision ID: e5f7a9b1c3d4
Revises: d4e6f8a0b2c3
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e5f7a9b1c3d4"
down_revision = "d4e6f8a0b2c3"
branch_labels = None
depends_on = None

# BIGINT where the database has it; SQLite autoincrements only an INTEGER PRIMARY KEY.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _app_columns() -> list[sa.Column]:
    return [
        sa.Column("app_id", sa.String(200), nullable=True),
        sa.Column("app_name", sa.String(250), nullable=True),
        sa.Column("app_version", sa.String(100), nullable=True),
    ]


def upgrade():
    op.create_table(
        "headrace_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("site_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        *_app_columns(),
        sa.Column("entity_type", sa.String(10), nullable=False),
        sa.Column("entity_id", sa.String(250), nullable=False),
        sa.Column("parent_id", sa.String(250), nullable=True),
        sa.Column("business_key", sa.String(250), nullable=True),
        sa.Column("sub_key", sa.String(250), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        _when("at", nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        _when("inserted_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="headrace_event_pkey"),
        sa.UniqueConstraint("site_id", "idempotency_key", name="headrace_event_site_id_idempotency_key_uq"),
    )
    op.create_index("idx_headrace_event_at", "headrace_event", ["at"])
    op.create_index("idx_headrace_event_entity", "headrace_event", ["entity_type", "entity_id"])

    op.create_table(
        "headrace_tracked_entity",
        sa.Column("site_id", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(10), nullable=False),
        sa.Column("entity_id", sa.String(250), nullable=False),
        sa.Column("parent_id", sa.String(250), nullable=True),
        *_app_columns(),
        sa.Column("job_key", sa.String(250), nullable=True),
        sa.Column("sub_key", sa.String(250), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        _when("status_at"),
        _when("started_at"),
        _when("ended_at"),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("cpu_user_s", sa.Float(), nullable=True),
        sa.Column("cpu_system_s", sa.Float(), nullable=True),
        sa.Column("mem_max_mb", sa.Float(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("placeholder", sa.Boolean(), nullable=False),
        _when("last_event_at"),
        _when("inserted_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("site_id", "entity_type", "entity_id", name="headrace_tracked_entity_pkey"),
    )
    op.create_index(
        "idx_headrace_tracked_entity_started", "headrace_tracked_entity", ["entity_type", "started_at"]
    )
    op.create_index(
        "idx_headrace_tracked_entity_inserted", "headrace_tracked_entity", ["entity_type", "inserted_at"]
    )
    op.create_index("idx_headrace_tracked_entity_parent", "headrace_tracked_entity", ["site_id", "parent_id"])

    op.create_table(
        "headrace_monitoring_site",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(250), nullable=True),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="headrace_monitoring_site_pkey"),
    )

    op.create_table(
        "headrace_webhook",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("owner", sa.String(250), nullable=True),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="headrace_webhook_pkey"),
    )
    op.create_table(
        "headrace_webhook_delivery",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("event_id", _ID, nullable=False),
        sa.Column("event_name", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at", nullable=False),
        _when("created_at", nullable=False),
        _when("delivered_at"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["headrace_webhook.id"],
            name="headrace_webhook_delivery_webhook_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="headrace_webhook_delivery_pkey"),
        sa.UniqueConstraint("webhook_id", "event_id", name="headrace_webhook_delivery_webhook_id_event_id_uq"),
    )
    op.create_index(
        "idx_headrace_webhook_delivery_due", "headrace_webhook_delivery", ["status", "next_attempt_at"]
    )
    op.create_table(
        "headrace_webhook_attempt",
        sa.Column("delivery_id", _ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _when("at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["headrace_webhook_delivery.id"],
            name="headrace_webhook_attempt_delivery_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "number", name="headrace_webhook_attempt_pkey"),
    )

    op.create_table(
        "headrace_event_cursor",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.String(250), nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name="headrace_event_cursor_pkey"),
    )


def downgrade():
    op.drop_table("headrace_event_cursor")
    op.drop_table("headrace_webhook_attempt")
    op.drop_table("headrace_webhook_delivery")
    op.drop_table("headrace_webhook")
    op.drop_table("headrace_monitoring_site")
    op.drop_table("headrace_tracked_entity")
    op.drop_table("headrace_event")
