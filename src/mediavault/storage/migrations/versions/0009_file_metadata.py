"""file metadata: embedded metadata and video facts per version

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("embedded_metadata", sa.JSON()),
    ("duration", sa.Integer()),
    ("video_codec", sa.String(length=32)),
    ("audio_codec", sa.String(length=32)),
    ("bit_rate", sa.BigInteger()),
)


def upgrade() -> None:
    for table in ("versions", "trashed_versions"):
        with op.batch_alter_table(table) as batch:
            for name, type_ in _COLUMNS:
                batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for table in ("versions", "trashed_versions"):
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(_COLUMNS):
                batch.drop_column(name)
