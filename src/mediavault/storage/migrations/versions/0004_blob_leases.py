"""blob leases and deletion markers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_leases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blob_leases")),
    )
    op.create_index(op.f("ix_blob_leases_digest"), "blob_leases", ["digest"], unique=False)
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marked_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("marked_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_column("marked_until")
        batch_op.drop_column("marked_by")
    op.drop_index(op.f("ix_blob_leases_digest"), table_name="blob_leases")
    op.drop_table("blob_leases")
