"""The schema, in SQLAlchemy Core; one definition for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

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
    # Moved on by the database itself (triggers, migration 0010) whenever this row or one of
    # its versions changes: a cached answer about the file is valid while it stays the same.
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    # A folder's files in the default sort order, ties by id, with each one's revision: a
    # folder's page of ids and revisions comes from the index alone (migration 0012).
    sa.Index(None, "folder_path", "created_at", "id", "revision"),
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
    sa.Column("embedded_metadata", sa.JSON),  # EXIF/IPTC, flat and readable (media/metadata.py)
    sa.Column("duration", sa.Integer),  # videos: whole seconds
    sa.Column("video_codec", sa.String(32)),
    sa.Column("audio_codec", sa.String(32)),
    sa.Column("bit_rate", sa.BigInteger),  # bits per second
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

# Custom metadata values in rows rather than inside JSON (one per field with a non-null
# value, derived by storage/rows.py custom_value_rows), so that a search condition on a field
# reads the versions that can match from an index. `kind`: "s" a string (in `string`), "n" a
# number, "b" a boolean (in `number`, 1 or 0), "x" anything else (an array, an object, a
# string too long for the index, an integer beyond a double's exact range): no value kept.
# They narrow the search and the JSON is compared on what they give, except where the string
# rows alone decide (search_sql.custom_rows_decide: an equality with plain words).
version_custom_values = sa.Table(
    "version_custom_values",
    metadata,
    sa.Column(
        "version_id",
        sa.String(24),
        sa.ForeignKey("versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("field", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(1), nullable=False),
    sa.Column("string", sa.String(1000)),
    sa.Column("number", sa.Float),
    # Each condition reads version ids from one index alone.
    sa.Index(None, "field", "kind", "string", "version_id"),
    sa.Index(None, "field", "kind", "number", "version_id"),
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

# -- Beyond ImageKit (issue 13) -------------------------------------------------------------


def _same_columns(table: sa.Table, exclude: set[str]) -> list[sa.Column[Any]]:
    """Fresh columns with the names, types and nullability of `table`'s (no keys, no index)."""
    return [
        sa.Column(
            column.name, column.type, nullable=column.nullable, primary_key=column.primary_key
        )
        for column in table.columns
        if column.name not in exclude
    ]


# Per-file history: append-only, written in the transaction of the change; no foreign key, so
# it outlives the versions and the file it describes. `seq` orders it and is the cursor.
file_events = sa.Table(
    "file_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", sa.String(24), nullable=False, unique=True),
    sa.Column("file_id", sa.String(24), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("version_id", sa.String(24)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index(None, "file_id", "seq"),
    sa.Index(None, "at"),
)

# Idempotency-Key: the first completed answer to a request, replayed to its retries.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    # sha256 of the method, the path and the request's meaning (the parsed form of an upload).
    sa.Column("request_digest", sa.String(64), nullable=False),
    # The liveness owner of the process running the first request (a dead one's claim lapses).
    sa.Column("owner", sa.Integer, nullable=False),
    sa.Column("status", sa.Integer),  # NULL while the first request runs
    sa.Column("headers", sa.JSON),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index(None, "expires_at"),
)

retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("folder_path", sa.Text, nullable=False, unique=True),  # "/a/b/"
    sa.Column("keep_last", sa.Integer),
    sa.Column("keep_days", sa.Integer),
    sa.Column("thin", sa.JSON),  # [{"olderThanDays": 7, "keepOnePer": "day"}, ...]
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# A pinned version is never removed by retention, nor deleted until unpinned. A table of its
# own keeps the versions rows (and every read of them) as they are.
version_pins = sa.Table(
    "version_pins",
    metadata,
    sa.Column(
        "version_id",
        sa.String(24),
        sa.ForeignKey("versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("file_id", sa.String(24), nullable=False),
    sa.Column("pinned_at", sa.BigInteger, nullable=False),
    sa.Index(None, "file_id"),
)

# The trash: a deleted file and its versions move here whole (same ids and columns), so every
# ImageKit route keeps reading `files` and `versions` as before, and the path is free at once.
# Their blobs stay referenced until the trash is purged.
trashed_files = sa.Table(
    "trashed_files",
    metadata,
    *_same_columns(files, exclude={"file_path"}),
    sa.Column("file_path", sa.Text, nullable=False),  # not unique: a path may be trashed twice
    sa.Column("deleted_at", sa.BigInteger, nullable=False),
    sa.Index(None, "file_path"),
    sa.Index(None, "deleted_at"),
)

trashed_versions = sa.Table(
    "trashed_versions",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column(
        "file_id",
        sa.String(24),
        sa.ForeignKey("trashed_files.id", ondelete="CASCADE"),
        nullable=False,
    ),
    *_same_columns(versions, exclude={"id", "file_id", "blob_digest", "token"}),
    sa.Column("blob_digest", sa.String(64), sa.ForeignKey("blobs.digest"), nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Index(None, "file_id"),
    sa.Index(None, "blob_digest"),
)

# Storage accounting: counters per folder prefix ("/" included), kept by the write
# transactions themselves so that `GET /v1/storage` reads one row.
folder_usage = sa.Table(
    "folder_usage",
    metadata,
    sa.Column("folder_path", sa.Text, primary_key=True),
    sa.Column("files", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("versions", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("current_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("version_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("trash_bytes", sa.BigInteger, nullable=False, server_default="0"),
)

# Browser uploads (V1 signatures, V2 JWTs): every proof is good once, even for a failed request;
# a used one is remembered until its expiry (plus clock skew) has passed.
used_upload_tokens = sa.Table(
    "used_upload_tokens",
    metadata,
    sa.Column("key", sa.String(67), primary_key=True),  # "v1:" or "v2:" + sha256 of the token
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index(None, "expires_at"),
)

# Folder bulk jobs (POST /v1/bulkJobs/*): run in batches by the servers' background task; a
# job is claimed by one live process at a time (owner, lease) and resumes from `cursor`.
bulk_jobs = sa.Table(
    "bulk_jobs",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False),  # COPY_FOLDER, MOVE_FOLDER, RENAME_FOLDER
    sa.Column("status", sa.String(16), nullable=False),  # Pending, Completed
    sa.Column("source_path", sa.Text, nullable=False),  # "/a/b/"
    sa.Column("target_path", sa.Text, nullable=False),  # where the source's contents go
    sa.Column("include_versions", sa.Boolean, nullable=False),
    sa.Column("purge_request_id", sa.String(24)),
    sa.Column("cursor", sa.Text),  # the last file path done
    sa.Column("files_done", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.JSON),  # files left where they were, and why
    sa.Column("owner", sa.Integer),  # liveness owner of the process running it
    sa.Column("lease_until", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index(None, "status"),
)

# Cache purges (POST /v1/files/purge, folder rename's purgeCache): local renditions are dropped
# when the request is made; forwarding to MEDIAVAULT_PURGE_WEBHOOK_URL is retried like webhooks.
purge_requests = sa.Table(
    "purge_requests",
    metadata,
    sa.Column("id", sa.String(24), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("waiting_for_job", sa.String(24)),  # a folder rename's purge waits for its job
    sa.Column("forward_to", sa.Text),  # NULL: nothing to forward
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("completed_at", sa.BigInteger),  # NULL: Pending
    sa.Index("ix_purge_requests_pending", "completed_at", "next_attempt_at"),
)

# Bytes delivered per UTC day (GET /v1/accounts/usage), added to by every process's batched
# counters.
bandwidth_days = sa.Table(
    "bandwidth_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD
    sa.Column("bytes", sa.BigInteger, nullable=False),
)

# Search and sort columns of the list API.
sa.Index("ix_files_name", files.c.name)
# With the id, a search that walks files in creation order (mediavault.storage.search_plan)
# reads only the index for the files it passes over.
sa.Index("ix_files_created_at_id", files.c.created_at, files.c.id)
sa.Index("ix_files_updated_at", files.c.updated_at)
for _column in ("size", "width", "height", "created_at", "updated_at", "mime"):
    sa.Index(f"ix_versions_is_current_{_column}", versions.c.is_current, versions.c[_column])
# A search driven by version ids (custom metadata's value rows, tags) reads, for each version
# it is given, whether it is current and its file, and for each such file its creation time
# (the default sort) and revision (a page asked for again: mediavault.storage.listing): from
# these two indexes alone, neither table's rows (migration 0013). On SQLite the statement
# names them (INDEXED BY): its planner takes the primary key's index for an id without them.
VERSIONS_BY_ID_INDEX = "ix_versions_id_is_current_file_id"
FILES_BY_ID_INDEX = "ix_files_id_created_at_revision"
sa.Index(VERSIONS_BY_ID_INDEX, versions.c.id, versions.c.is_current, versions.c.file_id)
sa.Index(FILES_BY_ID_INDEX, files.c.id, files.c.created_at, files.c.revision)
