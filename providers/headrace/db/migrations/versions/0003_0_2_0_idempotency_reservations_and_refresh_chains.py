"""Idempotency keys are reserved before the request runs; refresh-token chains have an absolute end.

An idempotency record is inserted first (``status_code`` and ``response`` still empty) so that the
primary key decides which of two concurrent requests runs; its answer is filled in afterwards.
Refresh tokens carry ``chain_expires_at``, inherited from the login that started the chain.

Revision ID: c3d5e7f9a1b2
Revises: b2c4d6e8f0a1
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3d5e7f9a1b2"
down_revision = "b2c4d6e8f0a1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("headrace_idempotency") as batch:
        batch.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("response", existing_type=sa.JSON(), nullable=True)
        batch.create_index("idx_headrace_idempotency_created_at", ["created_at"])
    with op.batch_alter_table("headrace_refresh_token") as batch:
        batch.add_column(sa.Column("chain_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("headrace_refresh_token") as batch:
        batch.drop_column("chain_expires_at")
    op.execute("DELETE FROM headrace_idempotency WHERE status_code IS NULL")
    with op.batch_alter_table("headrace_idempotency") as batch:
        batch.drop_index("idx_headrace_idempotency_created_at")
        batch.alter_column("response", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("status_code", existing_type=sa.Integer(), nullable=False)
