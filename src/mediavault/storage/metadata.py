"""The metadata store: transactions and every SQL statement the services need.

A write block takes effect when it ends normally and not at all when it raises, so a failed
request changes nothing (on SQLite consecutive blocks may share a transaction, each in a
savepoint: mediavault.storage.shared_writes). Writers lock what they read (`FOR UPDATE` on
PostgreSQL; on SQLite the whole database is locked by BEGIN IMMEDIATE), so read-modify-write
sequences such as "next version number" stay correct with many processes.

A write block returns only once its commit is durable (on SQLite after the commit barrier's
sync of the WAL, outside the write lock: mediavault.storage.durability), so whatever a use case
does after it, answering its request included, follows a durable commit.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import CustomMetadataField, File, Version, VersionMetadata
from mediavault.errors import WriteConflict
from mediavault.storage.blob_queries import BlobQueries
from mediavault.storage.bulk_job_queries import BulkJobQueries
from mediavault.storage.database import commit_barrier, reader, single_statement_reader
from mediavault.storage.field_queries import FieldQueries
from mediavault.storage.folder_queries import FolderQueries
from mediavault.storage.fsck_queries import SEARCH_SOURCES, FsckQueries, search_metadata
from mediavault.storage.history_queries import HistoryQueries
from mediavault.storage.idempotency_queries import IdempotencyQueries
from mediavault.storage.listing import ListingQueries
from mediavault.storage.lookups import IS_CURRENT, Lookups, SqliteLookups, through_connection
from mediavault.storage.outbox_queries import OutboxQueries
from mediavault.storage.prepared import statements_for
from mediavault.storage.purge_queries import PurgeQueries
from mediavault.storage.retention_queries import RetentionQueries
from mediavault.storage.rows import custom_value_rows, file_from, tag_rows, version_from
from mediavault.storage.shared_writes import SharedWrites
from mediavault.storage.tables import (
    custom_metadata_fields,
    files,
    version_custom_values,
    version_tags,
    versions,
)
from mediavault.storage.transfer_queries import TransferQueries
from mediavault.storage.trash_queries import TrashQueries
from mediavault.storage.upload_token_queries import UploadTokenQueries
from mediavault.storage.usage_queries import UsageQueries


class MetadataStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._writer = engine
        self._reader = reader(engine)
        self._barrier = commit_barrier(engine)
        self._shared_writes: SharedWrites | None = None
        self._sqlite_lookups: SqliteLookups | None = None
        self._single_statements: sa.Engine | None = None
        if engine.dialect.name == "sqlite":
            database = Path(engine.url.database or "")
            self._shared_writes = SharedWrites(engine, database, self._barrier)
            self._sqlite_lookups = SqliteLookups(database, engine.dialect)
        else:
            self._single_statements = single_statement_reader(engine)
        # A SQLite lookup is a few dozen microseconds of local file reads: less than handing
        # it to a thread and back. PostgreSQL lookups wait on the network, so they do not.
        self.lookups_inline = self._sqlite_lookups is not None

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        try:
            with self._transaction() as connection:
                tx = Transaction(connection)
                yield tx
                tx.flush_usage()  # storage counters last, just before the commit
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
            if _lost_a_race(exc):
                raise WriteConflict() from exc
            raise
        if self._shared_writes is None:
            # Committed: durable before the caller goes on (SQLite's writes were made durable
            # by their batch, after the write lock was given up).
            self._barrier.wait()

    def _transaction(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """On SQLite, this writer's turn, perhaps in a transaction shared with the writers
        before it (mediavault.storage.shared_writes); on PostgreSQL, a transaction of its own
        whose row locks serialize what must be."""
        if self._shared_writes is not None:
            return self._shared_writes.transaction()
        return self._writer.begin()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        with self._reader.begin() as connection:
            yield Transaction(connection)

    def lookups(self) -> contextlib.AbstractContextManager[Lookups]:
        """Single-statement reads, without a transaction around them."""
        if self._sqlite_lookups is not None:
            return self._sqlite_lookups.lookups()  # the thread's own, kept
        return self._connected_lookups()

    @contextmanager
    def _connected_lookups(self) -> Iterator[Lookups]:
        assert self._single_statements is not None
        with self._single_statements.connect() as connection:
            yield Lookups(through_connection(connection))

    def dispose(self) -> None:
        self._writer.dispose()
        self._barrier.close()
        if self._shared_writes is not None:
            self._shared_writes.close()


class Transaction(
    BlobQueries,
    FolderQueries,
    ListingQueries,
    FieldQueries,
    OutboxQueries,
    TransferQueries,
    FsckQueries,
    HistoryQueries,
    UploadTokenQueries,
    IdempotencyQueries,
    TrashQueries,
    UsageQueries,
    RetentionQueries,
    BulkJobQueries,
    PurgeQueries,
):
    def __init__(self, connection: sa.Connection) -> None:
        self._db = connection
        # The statements built once, on SQLite past SQLAlchemy's execution machinery.
        self._sql = statements_for(connection)
        self._usage_deltas = {}
        self._usage_recount = False
        self._folder_of = {}

    # -- files ---------------------------------------------------------------------------------

    def get_file(self, file_id: str, *, lock: bool = False) -> File | None:
        query = _FILE_LOCKED if lock else _FILE
        row = self._sql.execute(query, {"b_id": file_id}).first()
        return self._seen(file_from(row._mapping)) if row else None

    def get_file_by_path(self, file_path: str, *, lock: bool = False) -> File | None:
        query = _FILE_BY_PATH_LOCKED if lock else _FILE_BY_PATH
        row = self._sql.execute(query, {"b_file_path": file_path}).first()
        return self._seen(file_from(row._mapping)) if row else None

    def _seen(self, file: File) -> File:
        self._folder_of[file.id] = file.folder_path  # for the storage counters
        return file

    def existing_file_ids(self, file_ids: Iterable[str]) -> set[str]:
        query = sa.select(files.c.id).where(files.c.id.in_(list(file_ids))).with_for_update()
        return set(self._db.scalars(query))

    def insert_file(self, file: File) -> None:
        self._sql.execute(
            _INSERT_FILE,
            {
                "id": file.id,
                "name": file.name,
                "folder_path": file.folder_path,
                "file_path": file.file_path,
                "last_version_number": file.last_version_number,
                "created_at": file.created_at,
                "updated_at": file.updated_at,
            },
        )
        self._seen(file)
        self.count_usage(file.folder_path, files=1)

    def update_file(self, file_id: str, **values: Any) -> None:
        parameters = {f"b_{name}": value for name, value in values.items()}
        self._sql.execute(_update_file(tuple(values)), {"b_id": file_id, **parameters})

    def move_file(self, file_id: str, name: str, folder_path: str, now: int) -> None:
        self.count_file_moving(file_id, self.folder_of(file_id), folder_path)
        self._folder_of[file_id] = folder_path
        self._db.execute(
            sa.update(files)
            .where(files.c.id == file_id)
            .values(
                name=name, folder_path=folder_path, file_path=folder_path + name, updated_at=now
            )
        )

    def delete_files(self, file_ids: Iterable[str]) -> list[str]:
        """Delete the files and all their versions; returns the blob digests they referenced."""
        ids = list(file_ids)
        self.count_files_leaving(ids, to_trash=False)
        digests = self._db.scalars(
            sa.select(versions.c.blob_digest).where(versions.c.file_id.in_(ids)).distinct()
        ).all()
        self._db.execute(sa.delete(versions).where(versions.c.file_id.in_(ids)))
        self._db.execute(sa.delete(files).where(files.c.id.in_(ids)))
        return list(digests)

    def live_fields(self) -> list[CustomMetadataField]:
        """`list_fields()` (not deleted ones), through a statement built once: every upload
        reads them."""
        return [
            CustomMetadataField(row.id, row.name, row.label, row.schema, row.is_deleted)
            for row in self._sql.execute(_LIVE_FIELDS)
        ]

    # -- versions ------------------------------------------------------------------------------

    def list_versions(self, file_id: str) -> list[Version]:
        """Current first, then the others newest number first."""
        query = (
            sa.select(versions)
            .where(versions.c.file_id == file_id)
            .order_by(versions.c.is_current.desc(), versions.c.number.desc())
        )
        return [version_from(row._mapping) for row in self._db.execute(query)]

    def count_versions(self, file_id: str) -> int:
        return int(self._sql.execute(_COUNT_VERSIONS, {"b_file_id": file_id}).scalar() or 0)

    def count_versions_of(self, file_ids: list[str]) -> dict[str, int]:
        """Version counts of many files in one statement (the web console's grid)."""
        if not file_ids:
            return {}
        query = (
            sa.select(versions.c.file_id, sa.func.count())
            .where(versions.c.file_id.in_(file_ids))
            .group_by(versions.c.file_id)
        )
        return {file_id: int(count) for file_id, count in self._db.execute(query)}

    def get_version(self, file_id: str, version_id: str) -> Version | None:
        query = sa.select(versions).where(
            versions.c.file_id == file_id, versions.c.id == version_id
        )
        row = self._db.execute(query).first()
        return version_from(row._mapping) if row else None

    def get_current_version(self, file_id: str) -> Version | None:
        row = self._sql.execute(_CURRENT_VERSION, {"b_file_id": file_id}).first()
        return version_from(row._mapping) if row else None

    def get_version_by_token(self, file_id: str, token: str) -> Version | None:
        query = sa.select(versions).where(versions.c.file_id == file_id, versions.c.token == token)
        row = self._db.execute(query).first()
        return version_from(row._mapping) if row else None

    def insert_version(self, version: Version) -> None:
        content, meta = version.content, version.metadata
        self._sql.execute(
            _INSERT_VERSION,
            {
                "id": version.id,
                "file_id": version.file_id,
                "number": version.number,
                "blob_digest": content.digest,
                "size": content.size,
                "mime": content.mime,
                "file_type": content.file_type,
                "width": content.width,
                "height": content.height,
                "has_alpha": content.has_alpha,
                "embedded_metadata": content.embedded_metadata,
                "duration": content.duration,
                "video_codec": content.video_codec,
                "audio_codec": content.audio_codec,
                "bit_rate": content.bit_rate,
                **_metadata_columns(meta),
                "token": version.token,
                "is_current": version.is_current,
                "created_at": version.created_at,
                "updated_at": version.updated_at,
            },
        )
        self.count_version(version.file_id, content.size, version.is_current)
        self._set_tags(version.id, meta, new=True)
        self._set_custom_values(version.id, meta, new=True)

    def update_version_metadata(
        self, version_id: str, metadata: VersionMetadata, updated_at: int
    ) -> None:
        self._db.execute(
            sa.update(versions)
            .where(versions.c.id == version_id)
            .values(**_metadata_columns(metadata), updated_at=updated_at)
        )
        self._set_tags(version_id, metadata)
        self._set_custom_values(version_id, metadata)

    def rebuild_search_rows(self, version_ids: list[str]) -> None:
        """Make the versions' search rows again from their tags and custom metadata (fsck's
        repair: the rows are derived, the JSON holds); drop those of versions that are gone."""
        statement = sa.select(*SEARCH_SOURCES).where(
            versions.c.id.in_(sa.bindparam("ids", expanding=True))
        )
        for start in range(0, len(version_ids), _REBUILT_AT_A_TIME):
            ids = version_ids[start : start + _REBUILT_AT_A_TIME]
            found = {
                row[0]: search_metadata(row) for row in self._db.execute(statement, {"ids": ids})
            }
            for version_id in ids:
                meta = found.get(version_id, VersionMetadata())  # gone: its rows are dropped
                self._set_tags(version_id, meta)
                self._set_custom_values(version_id, meta)

    def _set_tags(self, version_id: str, metadata: VersionMetadata, *, new: bool = False) -> None:
        if not new:  # a version inserted in this transaction has no tag rows yet
            self._sql.execute(_DELETE_TAGS, {"b_version_id": version_id})
        rows = tag_rows(version_id, metadata)
        if rows:
            self._sql.execute(_INSERT_TAGS, rows)

    def _set_custom_values(
        self, version_id: str, metadata: VersionMetadata, *, new: bool = False
    ) -> None:
        """The version's version_custom_values rows, as its custom metadata says: nothing to
        do for a new version without any (an upload without customMetadata)."""
        if not new:
            self._sql.execute(_DELETE_CUSTOM_VALUES, {"b_version_id": version_id})
        rows = custom_value_rows(version_id, metadata)
        if rows:
            self._sql.execute(_INSERT_CUSTOM_VALUES, rows)

    def set_version_published(
        self, version_id: str, is_published: bool, token: str, updated_at: int
    ) -> None:
        self._db.execute(
            sa.update(versions)
            .where(versions.c.id == version_id)
            .values(is_published=is_published, token=token, updated_at=updated_at)
        )

    def demote_current_version(self, file_id: str, updated_at: int) -> None:
        # Runs before the promotion, so the one-current-per-file index never sees two.
        demoted = self._sql.execute(
            _DEMOTE_CURRENT, {"b_file_id": file_id, "b_updated_at": updated_at}
        )
        for size in demoted.scalars():
            self.count_usage(self.folder_of(file_id), current_bytes=-size)

    def promote_version(self, version_id: str, updated_at: int) -> None:
        promoted = self._db.execute(
            sa.update(versions)
            .where(versions.c.id == version_id)
            .values(is_current=True, updated_at=updated_at)
            .returning(versions.c.file_id, versions.c.size)
        )
        for file_id, size in promoted:
            self.count_usage(self.folder_of(file_id), current_bytes=size)

    def reassign_version(
        self, version_id: str, file_id: str, number: int, is_current: bool, now: int
    ) -> None:
        """Move a version into another file's history (a move onto a same-named file)."""
        before = self._db.execute(
            sa.select(versions.c.file_id, versions.c.size, versions.c.is_current).where(
                versions.c.id == version_id
            )
        ).one()
        self.count_version(before.file_id, before.size, before.is_current, sign=-1)
        self.count_version(file_id, before.size, is_current)
        self._db.execute(
            sa.update(versions)
            .where(versions.c.id == version_id)
            .values(file_id=file_id, number=number, is_current=is_current, updated_at=now)
        )

    def delete_version(self, version_id: str) -> None:
        deleted = self._db.execute(
            sa.delete(versions)
            .where(versions.c.id == version_id)
            .returning(versions.c.file_id, versions.c.size, versions.c.is_current)
        )
        for file_id, size, is_current in deleted:
            self.count_version(file_id, size, is_current, sign=-1)


# Statements of the write paths, built once: building one (and its cache key) costs about three
# times what running it does (bench/profile_writes.py). Parameters are named b_* where a column
# of the same name is set by the statement.
_FILE = sa.select(files).where(files.c.id == sa.bindparam("b_id"))
_FILE_LOCKED = _FILE.with_for_update()
_FILE_BY_PATH = sa.select(files).where(files.c.file_path == sa.bindparam("b_file_path"))
_FILE_BY_PATH_LOCKED = _FILE_BY_PATH.with_for_update()
_INSERT_FILE = sa.insert(files)
_COUNT_VERSIONS = sa.select(sa.func.count()).where(versions.c.file_id == sa.bindparam("b_file_id"))
# IS_CURRENT, not the column: see storage/lookups.py (SQLite's partial index of current versions).
_CURRENT_VERSION = sa.select(versions).where(
    versions.c.file_id == sa.bindparam("b_file_id"), IS_CURRENT
)
_INSERT_VERSION = sa.insert(versions)
# The same statement as FieldQueries.list_fields() without deleted fields.
_LIVE_FIELDS = (
    sa.select(custom_metadata_fields)
    .order_by(custom_metadata_fields.c.created_at, custom_metadata_fields.c.id)
    .where(sa.not_(custom_metadata_fields.c.is_deleted))
)
_REBUILT_AT_A_TIME = 500  # ids bound in one statement, well under any dialect's limit
_DELETE_TAGS = sa.delete(version_tags).where(
    version_tags.c.version_id == sa.bindparam("b_version_id")
)
_INSERT_TAGS = sa.insert(version_tags)
_DELETE_CUSTOM_VALUES = sa.delete(version_custom_values).where(
    version_custom_values.c.version_id == sa.bindparam("b_version_id")
)
_INSERT_CUSTOM_VALUES = sa.insert(version_custom_values)
_DEMOTE_CURRENT = (
    sa.update(versions)
    .where(versions.c.file_id == sa.bindparam("b_file_id"), IS_CURRENT)
    .values(is_current=False, updated_at=sa.bindparam("b_updated_at"))
    .returning(versions.c.size)
)


@functools.lru_cache(maxsize=64)
def _update_file(columns: tuple[str, ...]) -> sa.Update:
    return (
        sa.update(files)
        .where(files.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in columns})
    )


def _metadata_columns(meta: VersionMetadata) -> dict[str, Any]:
    return {
        "tags": meta.tags,
        "ai_tags": meta.ai_tags,
        "custom_metadata": meta.custom_metadata,
        "custom_coordinates": meta.custom_coordinates,
        "description": meta.description,
        "is_private_file": meta.is_private_file,
        "is_published": meta.is_published,
    }


# Unique violation (a concurrent insert won), serialization failure, deadlock, busy SQLite.
_RACE_SQLSTATES = {"23505", "40001", "40P01"}


def _lost_a_race(exc: sa.exc.DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _RACE_SQLSTATES
    text = str(exc.orig)
    return "UNIQUE constraint failed" in text or "database is locked" in text
