"""bulk jobs, purge requests, bandwidth per day

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("target_path", sa.Text(), nullable=False),
        sa.Column("include_versions", sa.Boolean(), nullable=False),
        sa.Column("purge_request_id", sa.String(length=24), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("files_done", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("owner", sa.Integer(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
    )
    op.create_index(op.f("ix_bulk_jobs_status"), "bulk_jobs", ["status"])
    op.create_table(
        "purge_requests",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("waiting_for_job", sa.String(length=24), nullable=True),
        sa.Column("forward_to", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_requests")),
    )
    op.create_index(
        "ix_purge_requests_pending", "purge_requests", ["completed_at", "next_attempt_at"]
    )
    op.create_table(
        "bandwidth_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_bandwidth_days")),
    )


def downgrade() -> None:
    op.drop_table("bandwidth_days")
    op.drop_index("ix_purge_requests_pending", table_name="purge_requests")
    op.drop_table("purge_requests")
    op.drop_index(op.f("ix_bulk_jobs_status"), table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
