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
    sa.Index(None, "folder_path"),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
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
