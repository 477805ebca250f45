"""folders tags custom metadata fields webhooks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:06:58.070093
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_metadata_fields",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_metadata_fields")),
        sa.UniqueConstraint("name", name=op.f("uq_custom_metadata_fields_name")),
    )
    op.create_table(
        "folders",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("folder_path", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
        sa.UniqueConstraint("folder_path", name=op.f("uq_folders_folder_path")),
    )
    with op.batch_alter_table("folders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_folders_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_folders_parent_path"), ["parent_path"], unique=False)

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("file_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("failed_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_outbox_delivered_at_failed_at_next_attempt_at"),
            ["delivered_at", "failed_at", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_outbox_target_url_file_id_id"),
            ["target_url", "file_id", "id"],
            unique=False,
        )

    op.create_table(
        "version_tags",
        sa.Column("version_id", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_version_tags_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "source", "tag", name=op.f("pk_version_tags")),
    )
    with op.batch_alter_table("version_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_tags_tag"), ["tag"], unique=False)

    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_files_name", ["name"], unique=False)
        batch_op.create_index("ix_files_updated_at", ["updated_at"], unique=False)

    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_versions_is_current_created_at", ["is_current", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_versions_is_current_height", ["is_current", "height"], unique=False
        )
        batch_op.create_index("ix_versions_is_current_mime", ["is_current", "mime"], unique=False)
        batch_op.create_index("ix_versions_is_current_size", ["is_current", "size"], unique=False)
        batch_op.create_index(
            "ix_versions_is_current_updated_at", ["is_current", "updated_at"], unique=False
        )
        batch_op.create_index("ix_versions_is_current_width", ["is_current", "width"], unique=False)

    _backfill()


def _backfill() -> None:
    """Folders implied by existing files, and tag rows of existing versions."""
    import json
    import time

    from mediavault.domain.ids import new_object_id

    bind = op.get_bind()
    now = time.time_ns() // 1_000_000
    paths: set[str] = set()
    for (folder_path,) in bind.execute(sa.text("SELECT DISTINCT folder_path FROM files")):
        segments = [s for s in folder_path.split("/") if s]
        for depth in range(1, len(segments) + 1):
            paths.add("/" + "".join(f"{s}/" for s in segments[:depth]))
    for path in sorted(paths):
        name = path.rstrip("/").rpartition("/")[2]
        parent = path[: len(path) - len(name) - 1]
        bind.execute(
            sa.text(
                "INSERT INTO folders (id, folder_path, name, parent_path, created_at, updated_at)"
                " VALUES (:id, :path, :name, :parent, :now, :now)"
            ),
            {"id": new_object_id(), "path": path, "name": name, "parent": parent, "now": now},
        )
    rows = bind.execute(sa.text("SELECT id, tags, ai_tags FROM versions")).all()

    for version_id, tags, ai_tags in rows:
        tags = json.loads(tags) if isinstance(tags, str) else tags
        ai_tags = json.loads(ai_tags) if isinstance(ai_tags, str) else ai_tags
        entries = {("user", t) for t in tags or []}
        entries |= {("ai", t["name"]) for t in ai_tags or [] if isinstance(t, dict) and "name" in t}
        for source, tag in entries:
            bind.execute(
                sa.text("INSERT INTO version_tags (version_id, source, tag) VALUES (:v, :s, :t)"),
                {"v": version_id, "s": source, "t": tag},
            )


def downgrade() -> None:
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index("ix_versions_is_current_width")
        batch_op.drop_index("ix_versions_is_current_updated_at")
        batch_op.drop_index("ix_versions_is_current_size")
        batch_op.drop_index("ix_versions_is_current_mime")
        batch_op.drop_index("ix_versions_is_current_height")
        batch_op.drop_index("ix_versions_is_current_created_at")

    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_updated_at")
        batch_op.drop_index("ix_files_name")
        batch_op.drop_index("ix_files_created_at")

    with op.batch_alter_table("version_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_tags_tag"))

    op.drop_table("version_tags")
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_outbox_target_url_file_id_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_outbox_delivered_at_failed_at_next_attempt_at"))

    op.drop_table("webhook_outbox")
    with op.batch_alter_table("folders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_folders_parent_path"))
        batch_op.drop_index(batch_op.f("ix_folders_name"))

    op.drop_table("folders")
    op.drop_table("custom_metadata_fields")
