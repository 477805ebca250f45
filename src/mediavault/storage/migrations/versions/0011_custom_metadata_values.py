"""custom metadata values: a row per field of a version's custom metadata

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 14:00:00

`version_custom_values` holds each version's custom metadata values in rows of their own, as
`version_tags` holds its tags, so that a search condition on a custom metadata field reads the
versions that can match from an index instead of every version's JSON
(mediavault.storage.search_sql, custom_candidates). Filled here from the existing versions
(trashed ones get theirs when they are restored); kept from then on by every write that sets a
version's custom metadata. The rows are derived by storage/rows.py custom_value_rows, the
function the write paths use, so that the backfill and the writes cannot disagree.
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from mediavault.domain.models import VersionMetadata
from mediavault.storage.rows import custom_value_rows

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "version_custom_values",
        sa.Column("version_id", sa.String(length=24), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("string", sa.String(length=1000), nullable=True),
        sa.Column("number", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_version_custom_values_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "field", name=op.f("pk_version_custom_values")),
    )
    op.create_index(
        "ix_version_custom_values_field_kind_string_version_id",
        "version_custom_values",
        ["field", "kind", "string", "version_id"],
        unique=False,
    )
    op.create_index(
        "ix_version_custom_values_field_kind_number_version_id",
        "version_custom_values",
        ["field", "kind", "number", "version_id"],
        unique=False,
    )
    _backfill()


def _backfill() -> None:
    """The rows of every existing version, read in batches of ids."""
    bind = op.get_bind()
    table = sa.table(
        "version_custom_values",
        sa.column("version_id"),
        sa.column("field"),
        sa.column("kind"),
        sa.column("string"),
        sa.column("number"),
    )
    after = ""
    while True:
        batch = bind.execute(
            sa.text(
                "SELECT id, custom_metadata FROM versions WHERE id > :after "
                "AND custom_metadata IS NOT NULL ORDER BY id LIMIT :limit"
            ),
            {"after": after, "limit": _BATCH},
        ).all()
        if not batch:
            return
        rows: list[dict[str, Any]] = []
        for version_id, document in batch:
            document = json.loads(document) if isinstance(document, str) else document
            rows += custom_value_rows(version_id, VersionMetadata(custom_metadata=document))
        if rows:
            bind.execute(sa.insert(table), rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_index(
        "ix_version_custom_values_field_kind_number_version_id",
        table_name="version_custom_values",
    )
    op.drop_index(
        "ix_version_custom_values_field_kind_string_version_id",
        table_name="version_custom_values",
    )
    op.drop_table("version_custom_values")
