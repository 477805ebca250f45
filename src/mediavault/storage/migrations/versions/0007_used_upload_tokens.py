"""used upload tokens: browser uploads' single-use proofs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_upload_tokens",
        sa.Column("key", sa.String(length=67), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_used_upload_tokens")),
    )
    op.create_index(op.f("ix_used_upload_tokens_expires_at"), "used_upload_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_used_upload_tokens_expires_at"), table_name="used_upload_tokens")
    op.drop_table("used_upload_tokens")
