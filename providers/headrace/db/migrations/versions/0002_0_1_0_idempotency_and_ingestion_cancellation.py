"""Idempotency records and ingestion cancellations.

Revision ID: b2c4d6e8f0a1
Revises: a1f0c2d3e4b5
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b2c4d6e8f0a1"
down_revision = "a1f0c2d3e4b5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headrace_idempotency",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("client", sa.String(250), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "client", "key", name="headrace_idempotency_pkey"),
    )
    op.create_table(
        "headrace_ingestion_cancellation",
        sa.Column("job_id", sa.String(250), nullable=False),
        sa.Column("cancelled_by", sa.String(250), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="headrace_ingestion_cancellation_pkey"),
    )


def downgrade():
    op.drop_table("headrace_ingestion_cancellation")
    op.drop_table("headrace_idempotency")
