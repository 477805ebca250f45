"""The schema, in SQLAlchemy Core; one definition for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("folder_path", sa.Text, nullable=False),
    sa.Column("file_path", sa.Text, nullable=False, unique=True),
    # The per-file counter behind "Version N": only ever grows, so numbers are never reused.
    sa.Column("last_version_number", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # A folder's files in the default sort order (list one folder).
    sa.Index(None, "folder_path", "created_at"),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # "live"; "pending": being uploaded, not yet referenced (an abandoned one is removed at
    # start); "deleting": unreferenced, its bytes about to go (or gone, after a crash).
    sa.Column("state", sa.String(8), nullable=False, server_default="live"),
    # While "deleting": the process that marked it finishes the deletion; others step in only
    # once it is gone (mediavault.storage.liveness) or this moment (ms) has passed.
    sa.Column("marked_by", sa.Integer),
    sa.Column("marked_until", sa.BigInteger),
)

# An upload's claim on a blob between publishing its bytes and committing the version that
# references them: no deletion may remove bytes that carry a lease.
blob_leases = sa.Table(
    "blob_leases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("owner", sa.Integer, nullable=False),  # liveness owner number of the uploader
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index(None, "digest"),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column(
        "file_id", sa.String(24), sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("blob_digest", sa.String(64), sa.ForeignKey("blobs.digest"), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mime", sa.String(255), nullable=False),
    sa.Column("file_type", sa.String(16), nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("has_alpha", sa.Boolean),
    sa.Column("tags", sa.JSON),
    sa.Column("ai_tags", sa.JSON),
    sa.Column("custom_metadata", sa.JSON),
    sa.Column("custom_coordinates", sa.String(255)),
    sa.Column("description", sa.Text),
    sa.Column("is_private_file", sa.Boolean, nullable=False),
    sa.Column("is_published", sa.Boolean, nullable=False),
    sa.Column("token", sa.String(32), nullable=False, unique=True),
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("file_id", "number"),
    sa.Index(None, "blob_digest"),
    # At most one current version per file, enforced by the database itself.
    sa.Index(
        "uq_versions_one_current_per_file",
        "file_id",
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    ),
)

folders = sa.Table(
    "folders",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("folder_path", sa.Text, nullable=False, unique=True),  # "/a/b/"
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("parent_path", sa.Text, nullable=False),  # "/a/"
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index(None, "parent_path"),
    sa.Index(None, "name"),
)

# Tags in rows rather than inside JSON: one portable, indexable query for "tags IN [...]".
version_tags = sa.Table(
    "version_tags",
    metadata,
    sa.Column(
        "version_id",
        sa.String(24),
        sa.ForeignKey("versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("source", sa.String(8), primary_key=True),  # "user" | "ai"
    sa.Column("tag", sa.String(500), primary_key=True),
    # `tags IN [...]` reads the version ids from the index alone.
    sa.Index(None, "tag", "version_id"),
)

custom_metadata_fields = sa.Table(
    "custom_metadata_fields",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    # Unique across deleted fields too, as ImageKit keeps a deleted field's name reserved.
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("is_deleted", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# Webhook events, written in the transaction of the change they describe, one row per target.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("target_url", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("file_id", sa.String(24), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Column("failed_at", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Index(None, "delivered_at", "failed_at", "next_attempt_at"),
    sa.Index(None, "target_url", "file_id", "id"),
)

# Search and sort columns of the list API.
sa.Index("ix_files_name", files.c.name)
# With the id, a search that walks files in creation order (mediavault.storage.search_plan)
# reads only the index for the files it passes over.
sa.Index("ix_files_created_at_id", files.c.created_at, files.c.id)
sa.Index("ix_files_updated_at", files.c.updated_at)
for _column in ("size", "width", "height", "created_at", "updated_at", "mime"):
    sa.Index(f"ix_versions_is_current_{_column}", versions.c.is_current, versions.c[_column])
