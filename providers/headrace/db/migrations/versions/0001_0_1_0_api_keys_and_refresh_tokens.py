"""API keys and refresh tokens.

Revision ID: a1f0c2d3e4b5
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a1f0c2d3e4b5"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "headrace_api_key",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(250), nullable=False),
        sa.Column("owner_claims", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="headrace_api_key_pkey"),
    )
    op.create_table(
        "headrace_refresh_token",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(250), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="headrace_refresh_token_pkey"),
    )
    op.create_index(
        "idx_headrace_refresh_token_expires_at", "headrace_refresh_token", ["expires_at"], unique=False
    )


def downgrade():
    op.drop_index("idx_headrace_refresh_token_expires_at", table_name="headrace_refresh_token")
    op.drop_table("headrace_refresh_token")
    op.drop_table("headrace_api_key")
