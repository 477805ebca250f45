"""beyond ImageKit: history, idempotency keys, retention policies, pins, trash, usage counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:00:00

Tables of issue 13, all new: nothing existing changes, so every ImageKit route reads what it
read before. folder_usage starts from the library's contents (see upgrade).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("file_id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.String(length=24), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_file_events")),
        sa.UniqueConstraint("id", name=op.f("uq_file_events_id")),
    )
    with op.batch_alter_table("file_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_file_events_file_id_seq"), ["file_id", "seq"], unique=False
        )

    op.create_table(
        "folder_usage",
        sa.Column("folder_path", sa.Text(), nullable=False),
        sa.Column("files", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("versions", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("current_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("trash_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("folder_path", name=op.f("pk_folder_usage")),
    )
    # The counters start from the library's contents; from here on every write keeps them
    # (mediavault.storage.usage_queries, whose recount is this same SQL). The trash is empty.
    op.execute(
        "INSERT INTO folder_usage "
        "(folder_path, files, versions, current_bytes, version_bytes, trash_bytes) "
        "SELECT f.folder_path, COUNT(DISTINCT f.id), COUNT(v.id), "
        "COALESCE(SUM(CASE WHEN v.is_current THEN v.size ELSE 0 END), 0), "
        "COALESCE(SUM(v.size), 0), 0 "
        "FROM files f LEFT JOIN versions v ON v.file_id = f.id GROUP BY f.folder_path"
    )
    op.execute(
        "INSERT INTO folder_usage "
        "(folder_path, files, versions, current_bytes, version_bytes, trash_bytes) "
        "SELECT '', COUNT(*), 0, COALESCE(SUM(size), 0), 0, 0 FROM blobs "
        "WHERE state = 'live' HAVING COUNT(*) > 0"
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("folder_path", sa.Text(), nullable=False),
        sa.Column("keep_last", sa.Integer(), nullable=True),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.Column("thin", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policies")),
        sa.UniqueConstraint("folder_path", name=op.f("uq_retention_policies_folder_path")),
    )
    op.create_table(
        "trashed_files",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("folder_path", sa.Text(), nullable=False),
        sa.Column("last_version_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trashed_files")),
    )
    with op.batch_alter_table("trashed_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trashed_files_deleted_at"), ["deleted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_trashed_files_file_path"), ["file_path"], unique=False)

    op.create_table(
        "trashed_versions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("file_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=255), nullable=False),
        sa.Column("file_type", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("has_alpha", sa.Boolean(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("ai_tags", sa.JSON(), nullable=True),
        sa.Column("custom_metadata", sa.JSON(), nullable=True),
        sa.Column("custom_coordinates", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_private_file", sa.Boolean(), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("blob_digest", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_digest"], ["blobs.digest"], name=op.f("fk_trashed_versions_blob_digest_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["trashed_files.id"],
            name=op.f("fk_trashed_versions_file_id_trashed_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trashed_versions")),
    )
    with op.batch_alter_table("trashed_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trashed_versions_blob_digest"), ["blob_digest"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_trashed_versions_file_id"), ["file_id"], unique=False)

    op.create_table(
        "version_pins",
        sa.Column("version_id", sa.String(length=24), nullable=False),
        sa.Column("file_id", sa.String(length=24), nullable=False),
        sa.Column("pinned_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_version_pins_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_pins")),
    )
    with op.batch_alter_table("version_pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_pins_file_id"), ["file_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("version_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_pins_file_id"))

    op.drop_table("version_pins")
    with op.batch_alter_table("trashed_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trashed_versions_file_id"))
        batch_op.drop_index(batch_op.f("ix_trashed_versions_blob_digest"))

    op.drop_table("trashed_versions")
    with op.batch_alter_table("trashed_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trashed_files_file_path"))
        batch_op.drop_index(batch_op.f("ix_trashed_files_deleted_at"))

    op.drop_table("trashed_files")
    op.drop_table("retention_policies")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("folder_usage")
    with op.batch_alter_table("file_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_events_file_id_seq"))
        batch_op.drop_index(batch_op.f("ix_file_events_at"))

    op.drop_table("file_events")
