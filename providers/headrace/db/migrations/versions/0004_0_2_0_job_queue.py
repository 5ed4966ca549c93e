"""The binary job queue: jobs, their attempts (one per claim) and the executors that claim them.

Revision ID: d4e6f8a0b2c3
Revises: c3d5e7f9a1b2
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d4e6f8a0b2c3"
down_revision = "c3d5e7f9a1b2"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "headrace_job",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("binary_url", sa.String(2048), nullable=False),
        sa.Column("binary_sha256", sa.String(64), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("env_variables", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("executor_id", sa.String(250), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("stdout", sa.Text(), nullable=True),
        sa.Column("stderr", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(250), nullable=True),
        _when("created_at", nullable=False),
        _when("started_at"),
        _when("heartbeat_at"),
        _when("completed_at"),
        _when("cancel_requested_at"),
        sa.PrimaryKeyConstraint("id", name="headrace_job_pkey"),
    )
    op.create_index("idx_headrace_job_type", "headrace_job", ["type"])
    op.create_index("idx_headrace_job_claim", "headrace_job", ["status", "priority_rank", "created_at"])
    op.create_table(
        "headrace_job_attempt",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("executor_id", sa.String(250), nullable=False),
        sa.Column("executor_ip", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        _when("started_at", nullable=False),
        _when("ended_at"),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["headrace_job.id"], name="headrace_job_attempt_job_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "number", name="headrace_job_attempt_pkey"),
    )
    op.create_index("idx_headrace_job_attempt_status", "headrace_job_attempt", ["status"])
    op.create_table(
        "headrace_job_executor",
        sa.Column("id", sa.String(250), nullable=False),
        sa.Column("hostname", sa.String(250), nullable=True),
        sa.Column("executor_ip", sa.String(64), nullable=True),
        sa.Column("types", sa.JSON(), nullable=True),
        _when("first_seen_at", nullable=False),
        _when("last_seen_at", nullable=False),
        sa.Column("current_job_id", sa.String(36), nullable=True),
        sa.Column("jobs_completed", sa.Integer(), nullable=False),
        sa.Column("jobs_failed", sa.Integer(), nullable=False),
        sa.Column("jobs_lost", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="headrace_job_executor_pkey"),
    )
    op.create_index("idx_headrace_job_executor_last_seen_at", "headrace_job_executor", ["last_seen_at"])


def downgrade():
    op.drop_table("headrace_job_executor")
    op.drop_table("headrace_job_attempt")
    op.drop_table("headrace_job")
