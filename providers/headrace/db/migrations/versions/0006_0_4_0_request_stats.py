"""Request statistics of the REST API, shared by every api-server worker (issue 13).

Revision ID: f6a8b0c2d4e5
Revises: e5f7a9b1c3d4
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f6a8b0c2d4e5"
down_revision = "e5f7a9b1c3d4"
branch_labels = None
depends_on = None

# BIGINT where the database has it; SQLite autoincrements only an INTEGER PRIMARY KEY.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "headrace_request_stat",
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("le_ms", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms_sum", sa.Float(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("route", "method", "status_code", "le_ms", name="headrace_request_stat_pkey"),
    )
    op.create_table(
        "headrace_request_sample",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="headrace_request_sample_pkey"),
    )


def downgrade():
    op.drop_table("headrace_request_sample")
    op.drop_table("headrace_request_stat")
