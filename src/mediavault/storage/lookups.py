"""The hottest reads, one statement each: a version of a file, its current version, all of them,
and the version a delivery URL names (by file path, current or by ik-obj-version token).

A single statement needs no transaction: SQLite reads one consistent snapshot per statement,
and PostgreSQL runs it in autocommit. That saves the BEGIN and COMMIT of a read transaction,
which on these routes cost more than the lookup itself.

On SQLite the statements are compiled once and run on a raw sqlite3 connection kept by each
thread that reads, with SQLAlchemy's own result processors for the column types: the same rows
as through a SQLAlchemy Connection, for a fraction of the per-call work (profiled: the
Connection's execution machinery was most of a version lookup's time).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from mediavault.domain.models import (
    ContentInfo,
    Delivered,
    File,
    FileVersion,
    Version,
    VersionMetadata,
)
from mediavault.storage.prepared import Prepared
from mediavault.storage.tables import files, versions
from mediavault.storage.wal_index import UnchangedMemo, WalIndexHeader

_FILE_PREFIX = "file__"
# File columns no record holds: the path is its folder and name; the revision is read on its
# own, by the answers kept in memory (api/answer_cache.py).
_NOT_IN_RECORDS = frozenset({"file_path", "revision"})
# Every column the records hold, each once: a file's path is its folder and name, and a
# version's file_id is the file's id. Each value costs the sqlite3 module an object per row,
# which on a list of 100 versions is most of the statement's time (profiled).
_COLUMNS = (
    *(c.label(f"{_FILE_PREFIX}{c.name}") for c in files.c if c.name not in _NOT_IN_RECORDS),
    *(c for c in versions.c if c is not versions.c.file_id),
)
_FILE_WITH_VERSIONS = sa.select(*_COLUMNS).join_from(
    files, versions, versions.c.file_id == files.c.id
)
_FILE_ID = files.c.id == sa.bindparam("file_id")
# The bare column, not `is_current = 1` as SQLAlchemy writes a boolean on SQLite: only this
# form lets SQLite's planner use the partial index of current versions (file_id WHERE
# is_current); with `= 1` it walks the (is_current, ...) index through every current version
# of the library. PostgreSQL reads either form the same.
IS_CURRENT = sa.text("versions.is_current")

# The file's current version id rides along with the version asked for (its ETag), from the
# partial index of current versions: no second statement.
_CURRENT = versions.alias("current_version")
CURRENT_ID_COLUMN = "current_version_id"
_CURRENT_ID = (
    sa.select(_CURRENT.c.id)
    .where(_CURRENT.c.file_id == files.c.id, sa.text("current_version.is_current"))
    .scalar_subquery()
    .label(CURRENT_ID_COLUMN)
)
ONE_VERSION = (
    sa.select(*_COLUMNS, _CURRENT_ID)
    .join_from(files, versions, versions.c.file_id == files.c.id)
    .where(_FILE_ID, versions.c.id == sa.bindparam("version_id"))
)
CURRENT_VERSION = _FILE_WITH_VERSIONS.where(_FILE_ID, IS_CURRENT)
# In the order of the (file_id, number) unique index, so the database sorts nothing; the
# current version is moved to the front afterwards.
ALL_VERSIONS = _FILE_WITH_VERSIONS.where(_FILE_ID).order_by(versions.c.number.desc())


def _at_path(version_condition: sa.ColumnElement[bool] | sa.TextClause) -> sa.Select[Any]:
    # An outer join: no row means no file at the path; a row without a version, no such version.
    joined = files.outerjoin(versions, sa.and_(versions.c.file_id == files.c.id, version_condition))
    return (
        sa.select(*_COLUMNS)
        .select_from(joined)
        .where(files.c.file_path == sa.bindparam("file_path"))
    )


CURRENT_AT_PATH = _at_path(IS_CURRENT)
TOKEN_AT_PATH = _at_path(versions.c.token == sa.bindparam("token"))

# What a delivery needs (domain.models.Delivered, in its field order), by the same joins: no
# JSON column, nothing to parse. The last value is FileVersion.updated_at, in SQL.
_DELIVERED_COLUMNS = (
    files.c.id,
    versions.c.id,
    versions.c.blob_digest,
    versions.c.size,
    versions.c.mime,
    versions.c.file_type,
    versions.c.video_codec,
    versions.c.is_private_file,
    versions.c.is_published,
    sa.case((versions.c.is_current, files.c.updated_at), else_=versions.c.updated_at),
    files.c.revision,
)


def _delivered_at_path(version_condition: sa.ColumnElement[bool] | sa.TextClause) -> sa.Select[Any]:
    return _at_path(version_condition).with_only_columns(*_DELIVERED_COLUMNS)


DELIVERED_AT_PATH = _delivered_at_path(IS_CURRENT)
DELIVERED_BY_TOKEN = _delivered_at_path(versions.c.token == sa.bindparam("token"))
_VERSION_ID_DELIVERED = 1

# A file's versions as the version list shows them (serializers.version_list): only the
# columns the File object needs, version columns first, the file's last.
LISTED_COLUMNS = (
    "id", "number", "size", "mime", "file_type", "width", "height", "has_alpha",
    "embedded_metadata", "duration", "video_codec", "audio_codec", "bit_rate", "tags", "ai_tags",
    "custom_metadata", "custom_coordinates", "description", "is_private_file",
    "is_published", "token", "is_current", "created_at", "updated_at",
)  # fmt: skip
VERSION_LIST = (
    sa.select(
        *(versions.c[name] for name in LISTED_COLUMNS),
        *(c.label(f"{_FILE_PREFIX}{c.name}") for c in files.c if c.name not in _NOT_IN_RECORDS),
    )
    .join_from(files, versions, versions.c.file_id == files.c.id)
    .where(_FILE_ID)
    .order_by(versions.c.number.desc())
)
# The file's revision (migration 0010): whether an answer cached about it still holds.
FILE_REVISION = sa.select(files.c.revision).where(_FILE_ID)
REVISION_AT_PATH = sa.select(files.c.revision).where(files.c.file_path == sa.bindparam("file_path"))
STATEMENTS = (
    ONE_VERSION,
    CURRENT_VERSION,
    ALL_VERSIONS,
    CURRENT_AT_PATH,
    TOKEN_AT_PATH,
    VERSION_LIST,
    DELIVERED_AT_PATH,
    DELIVERED_BY_TOKEN,
    FILE_REVISION,
    REVISION_AT_PATH,
)
# The checks in front of the answers kept in memory: asked on every request those answer, so on
# SQLite they are answered from a memo until the next commit (storage/wal_index.py).
REVISIONS = frozenset({FILE_REVISION, REVISION_AT_PATH})

# Rows by position, in the order of the statement's columns, with the column types converted.
Rows = Sequence[Sequence[Any]]
Runner = Callable[[sa.Select[Any], dict[str, str]], Rows]


class Lookups:
    def __init__(self, run: Runner) -> None:
        self._run = run

    # Its own context manager, for MetadataStore.lookups: a with-block costs no generator.
    def __enter__(self) -> Lookups:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def version(self, file_id: str, version_id: str) -> FileVersion | None:
        found = self.version_and_current(file_id, version_id)
        return found[0] if found else None

    def version_and_current(self, file_id: str, version_id: str) -> tuple[FileVersion, str] | None:
        """The version, and the id of its file's current version (the file's ETag)."""
        rows = self._run(ONE_VERSION, {"file_id": file_id, "version_id": version_id})
        if not rows:
            return None
        return _RECORDS[ONE_VERSION].file_version(rows[0]), rows[0][_CURRENT_ID_AT]

    def current(self, file_id: str) -> FileVersion | None:
        rows = self._run(CURRENT_VERSION, {"file_id": file_id})
        return _RECORDS[CURRENT_VERSION].file_version(rows[0]) if rows else None

    def at_path(self, file_path: str, token: str | None) -> File | FileVersion | None:
        """What a delivery URL names: the file's current version at its path, or the version of
        that file with the ik-obj-version token. The file alone if it has no such version;
        None if there is no file at the path."""
        if token is None:
            statement, params = CURRENT_AT_PATH, {"file_path": file_path}
        else:
            statement, params = TOKEN_AT_PATH, {"file_path": file_path, "token": token}
        rows = self._run(statement, params)
        if not rows:
            return None
        records = _RECORDS[statement]
        if rows[0][records.version_id] is None:
            return records.file(rows[0])
        return records.file_version(rows[0])

    def delivered(self, file_path: str, token: str | None) -> Delivered | bool:
        """at_path's answer for a delivery: the version's Delivered values; True if the file
        is there without such a version, False if there is no file at the path."""
        if token is None:
            rows = self._run(DELIVERED_AT_PATH, {"file_path": file_path})
        else:
            rows = self._run(DELIVERED_BY_TOKEN, {"file_path": file_path, "token": token})
        if not rows:
            return False
        row = rows[0]
        if row[_VERSION_ID_DELIVERED] is None:
            return True
        return _delivered(*row)

    def version_list(self, file_id: str) -> VersionList | None:
        """The file and its versions' LISTED_COLUMNS, current first, then the others newest
        number first: rows, not records, for the version list (see VersionList)."""
        rows = self._run(VERSION_LIST, {"file_id": file_id})
        if not rows:
            return None
        rows = list(rows)
        current = _IS_CURRENT_IN_LIST
        first = next((n for n, row in enumerate(rows) if row[current]), 0)
        if first:
            rows.insert(0, rows.pop(first))
        return VersionList(_LIST_FILE.file(rows[0]), rows)

    def revision(self, file_id: str) -> int | None:
        """The file's revision; None if there is no such file."""
        rows = self._run(FILE_REVISION, {"file_id": file_id})
        return rows[0][0] if rows else None

    def revision_at_path(self, file_path: str) -> int | None:
        """The revision of the file at the path; None if there is none."""
        rows = self._run(REVISION_AT_PATH, {"file_path": file_path})
        return rows[0][0] if rows else None

    def versions(self, file_id: str) -> list[FileVersion]:
        """Current first, then the others newest number first; empty if there is no file."""
        rows = self._run(ALL_VERSIONS, {"file_id": file_id})
        if not rows:
            return []
        records = _RECORDS[ALL_VERSIONS]
        file, version = records.file(rows[0]), records.version
        found = [FileVersion(file, version(row)) for row in rows]
        current = next((n for n, item in enumerate(found) if item.version.is_current), 0)
        if current:
            found.insert(0, found.pop(current))
        return found


class VersionList(NamedTuple):
    """A file with its versions' rows. Serializing 100 versions from rows, without a Version
    record per row, takes a third less time than from records (profiled): the version list is
    the one read whose cost grows with the rows, so it alone reads them so."""

    file: File
    rows: Rows  # each row: LISTED_COLUMNS, then the file's columns; types converted


_IS_CURRENT_IN_LIST = LISTED_COLUMNS.index("is_current")

# A record field read from a column of another name.
_COLUMN_OF = {"digest": "blob_digest", "file_id": f"{_FILE_PREFIX}id"}
_version: Callable[..., Version] = Version  # called with the arguments spread from a row
_delivered: Callable[..., Delivered] = Delivered


def _getters(statement: sa.Select[Any]) -> Callable[..., Callable[[Any], tuple[Any, ...]]]:
    position = {str(column.key): n for n, column in enumerate(statement.selected_columns)}

    def getter(names: Sequence[str], prefix: str = "") -> Callable[[Any], tuple[Any, ...]]:
        indexes = [position[prefix + _COLUMN_OF.get(name, name)] for name in names]
        get = itemgetter(*indexes)
        return get if len(indexes) > 1 else lambda row: (get(row),)

    return getter


class _FileRecords:
    """The file of a statement's rows."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        self._file = _getters(statement)(File.__struct_fields__, _FILE_PREFIX)

    def file(self, row: Sequence[Any]) -> File:
        return File(*self._file(row))


class _Records(_FileRecords):
    """Domain records from one statement's rows, by column position: each record is built with
    positional arguments in C, where building a dict per row and reading it back by name cost
    more than the query (profiled on the list of 100 versions). The positions come from the
    records' own field names, so a field added to a record without a column fails at import."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        super().__init__(statement)
        getter = _getters(statement)
        self._content = getter(ContentInfo.__struct_fields__)
        self._metadata = getter(VersionMetadata.__struct_fields__)
        self._custom_metadata = VersionMetadata.__struct_fields__.index("custom_metadata")
        fields = Version.__struct_fields__
        content = fields.index("content")
        if fields[content + 1] != "metadata":
            raise TypeError("Version's content and metadata fields must follow each other")
        self._head = getter(fields[:content])
        self._tail = getter(fields[content + 2 :])
        self.version_id = [str(column.key) for column in statement.selected_columns].index("id")

    def version(self, row: Sequence[Any]) -> Version:
        metadata = self._metadata(row)
        n = self._custom_metadata
        if not metadata[n]:  # as storage.rows.version_from: no custom metadata is {}
            metadata = (*metadata[:n], {}, *metadata[n + 1 :])
        return _version(
            *self._head(row),
            ContentInfo(*self._content(row)),
            VersionMetadata(*metadata),
            *self._tail(row),
        )

    def file_version(self, row: Sequence[Any]) -> FileVersion:
        return FileVersion(self.file(row), self.version(row))


_RECORDS = {
    statement: _Records(statement)
    for statement in STATEMENTS
    if statement
    not in (VERSION_LIST, DELIVERED_AT_PATH, DELIVERED_BY_TOKEN, FILE_REVISION, REVISION_AT_PATH)
}
_LIST_FILE = _FileRecords(VERSION_LIST)
_CURRENT_ID_AT = [str(c.key) for c in ONE_VERSION.selected_columns].index(CURRENT_ID_COLUMN)


def through_connection(connection: sa.Connection) -> Runner:
    """Any dialect: the statements through a SQLAlchemy connection."""

    def run(statement: sa.Select[Any], params: dict[str, str]) -> Rows:
        return connection.execute(statement, params).all()

    return run


class SqliteLookups:
    """Raw sqlite3 connections for the lookups, one per reading thread, opened on first use."""

    def __init__(self, path: Path, dialect: sa.Dialect) -> None:
        self._path = path
        self._prepared = {statement: Prepared(statement, dialect) for statement in STATEMENTS}
        self._local = threading.local()

    def lookups(self) -> Lookups:
        """This thread's Lookups, on its own connection: made once per thread, since making
        one per request cost a tenth of a delivery (profiled)."""
        found: Lookups | None = getattr(self._local, "lookups", None)
        if found is None:
            found = self._local.lookups = Lookups(self.runner())
        return found

    def runner(self) -> Runner:
        cursor = self._cursor()
        prepared = self._prepared
        memo: UnchangedMemo | None = self._local.memo

        def run(statement: sa.Select[Any], params: dict[str, str]) -> Rows:
            if memo is not None and statement in REVISIONS:
                key = (statement, *params.values())
                return memo.get(key, lambda: prepared[statement].rows(cursor, params))
            return prepared[statement].rows(cursor, params)

        return run

    def _cursor(self) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            # Autocommit (no BEGIN): each statement reads its own consistent snapshot.
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA query_only=ON")
            from mediavault.storage.database import MMAP_PRAGMA  # the engine's, as there

            connection.execute(f"PRAGMA {MMAP_PRAGMA}")
            self._local.memo = _memo(connection, self._path)
            cursor = self._local.cursor = connection.cursor()
        return cursor


def _memo(connection: sqlite3.Connection, path: Path) -> UnchangedMemo | None:
    """A memo over the database's wal-index header, once `connection` holds the -shm file open
    (its first read does that; it keeps it open until it closes); None unless in WAL mode."""
    (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal":
        return None
    connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    header = WalIndexHeader.open(path)
    return UnchangedMemo(header) if header is not None else None
