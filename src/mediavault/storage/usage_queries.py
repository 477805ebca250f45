"""SQL for storage accounting: counters per exact folder, kept by the write transactions.

Every Transaction method that changes files or versions (or makes a blob live or unreferenced)
adds its change to an in-memory delta per folder; `flush_usage` applies them when the write
block ends, just before its commit, in the order of their keys. So a transaction locks usage
rows last and in one order, after every file or blob row it locks: two writers never wait on
each other's usage rows in a cycle (no deadlock on PostgreSQL), and a rolled-back change
never reaches the counters.

A folder's row counts the files directly in it (`folder_path` equal, not below); the figures of
a prefix are the SUM over the rows in its range, one row per folder whatever the files. The row
of the empty path (never a folder: they all start with "/") counts the library's live blobs:
its `current_bytes` is the physical bytes of "/" and its `files` the number of blobs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mediavault.storage.dialects import escape_like
from mediavault.storage.prepared import Statements
from mediavault.storage.tables import (
    blobs,
    files,
    folder_usage,
    trashed_files,
    trashed_versions,
    versions,
)

BLOBS_ROW = ""  # the row of the library's blobs (see above)
COLUMNS = ("files", "versions", "current_bytes", "version_bytes", "trash_bytes")


@dataclass(frozen=True)
class Usage:
    files: int = 0
    versions: int = 0
    current_bytes: int = 0
    version_bytes: int = 0
    trash_bytes: int = 0


class UsageQueries:
    _db: sa.Connection
    _sql: Statements
    # folder path -> [files, versions, current_bytes, version_bytes, trash_bytes]
    _usage_deltas: dict[str, list[int]]
    # Set by a bulk import: the counters are recounted from the rows instead.
    _usage_recount: bool
    # file id -> its folder, for the files this transaction has read or written
    _folder_of: dict[str, str]

    # -- recording changes ---------------------------------------------------------------------

    def count_usage(self, folder_path: str, **changes: int) -> None:
        delta = self._usage_deltas.setdefault(folder_path, [0] * len(COLUMNS))
        for name, value in changes.items():
            delta[COLUMNS.index(name)] += value

    def count_version(self, file_id: str, size: int, is_current: bool, sign: int = 1) -> None:
        """A version appears (sign 1) or disappears (-1) from a live file."""
        current = size if is_current else 0
        self.count_usage(
            self.folder_of(file_id),
            versions=sign,
            version_bytes=sign * size,
            current_bytes=sign * current,
        )

    def count_physical(self, size: int, sign: int = 1) -> None:
        self.count_usage(BLOBS_ROW, files=sign, current_bytes=sign * size)

    def count_files_leaving(self, file_ids: list[str], *, to_trash: bool) -> None:
        """The files and all their versions leave the live library (deleted or trashed)."""
        for row in self._db.execute(_live_totals(file_ids)):
            self.count_usage(
                row.folder_path,
                files=-row.files,
                versions=-row.versions,
                version_bytes=-row.version_bytes,
                current_bytes=-row.current_bytes,
                trash_bytes=row.version_bytes if to_trash else 0,
            )

    def count_file_moving(self, file_id: str, old_folder: str, new_folder: str) -> None:
        if old_folder == new_folder:
            return
        for row in self._db.execute(_live_totals([file_id])):
            moved = {
                "files": row.files,
                "versions": row.versions,
                "version_bytes": row.version_bytes,
                "current_bytes": row.current_bytes,
            }
            self.count_usage(old_folder, **{k: -v for k, v in moved.items()})
            self.count_usage(new_folder, **moved)

    def folder_of(self, file_id: str) -> str:
        folder = self._folder_of.get(file_id)
        if folder is None:
            folder = self._db.scalar(sa.select(files.c.folder_path).where(files.c.id == file_id))
            assert folder is not None, file_id
            self._folder_of[file_id] = folder
        return folder

    def flush_usage(self) -> None:
        """Apply the counted changes: called once, as the write block ends."""
        if self._usage_recount:
            self.rewrite_usage(self.recount_usage())
        else:
            upsert = _upsert(self._db)
            for folder_path in sorted(self._usage_deltas):
                delta = self._usage_deltas[folder_path]
                if any(delta):
                    self._sql.execute(
                        upsert,
                        {"folder_path": folder_path, **dict(zip(COLUMNS, delta, strict=True))},
                    )
        self._usage_deltas.clear()
        self._usage_recount = False

    # -- reading -------------------------------------------------------------------------------

    def usage_under(self, prefix: str) -> Usage:
        """The SUM over the rows of the folders in the prefix: one row per folder."""
        query = sa.select(*(sa.func.coalesce(sa.func.sum(folder_usage.c[c]), 0) for c in COLUMNS))
        query = query.where(self._under(folder_usage.c.folder_path, prefix))
        row = self._db.execute(query).one()
        return Usage(*(int(v) for v in row))

    def physical_bytes(self, prefix: str) -> int:
        """Distinct blobs, each counted once: one row for "/", else every version below."""
        if prefix == "/":
            query = sa.select(folder_usage.c.current_bytes).where(
                folder_usage.c.folder_path == BLOBS_ROW
            )
            return int(self._db.scalar(query) or 0)
        digests = sa.union(
            sa.select(versions.c.blob_digest)
            .join(files, files.c.id == versions.c.file_id)
            .where(self._under(files.c.folder_path, prefix)),
            sa.select(trashed_versions.c.blob_digest)
            .join(trashed_files, trashed_files.c.id == trashed_versions.c.file_id)
            .where(self._under(trashed_files.c.folder_path, prefix)),
        ).subquery()
        query = sa.select(sa.func.coalesce(sa.func.sum(blobs.c.size), 0)).where(
            blobs.c.digest.in_(sa.select(digests.c.blob_digest))
        )
        return int(self._db.scalar(query) or 0)

    def _under(self, column: Any, prefix: str) -> Any:
        """The folder paths in `prefix`: a range of the index on SQLite, whose text order is
        bytewise ("/a/" up to "/a0", the character after "/"); LIKE on PostgreSQL, where a
        locale's collation may not order paths bytewise. The empty path is never in one."""
        if self._db.dialect.name == "sqlite":
            return sa.and_(column >= prefix, column < prefix[:-1] + chr(ord("/") + 1))
        return column.like(escape_like(prefix) + "%", escape="\\")

    def recorded_usage(self) -> dict[str, Usage]:
        rows = self._db.execute(sa.select(folder_usage))
        return {r.folder_path: Usage(*(int(r._mapping[c]) for c in COLUMNS)) for r in rows}

    def recount_usage(self) -> dict[str, Usage]:
        """Every counter counted again from the rows (fsck; a bulk import)."""
        counted: dict[str, list[int]] = {}
        for query in _RECOUNT:
            for row in self._db.execute(sa.text(query)):
                totals = counted.setdefault(row[0], [0] * len(COLUMNS))
                for index, value in enumerate(row[1:]):
                    totals[index] += int(value or 0)
        return {path: Usage(*totals) for path, totals in counted.items() if any(totals)}

    def rewrite_usage(self, usage: dict[str, Usage]) -> None:
        self._db.execute(sa.delete(folder_usage))
        rows = [{"folder_path": p, **u.__dict__} for p, u in sorted(usage.items())]
        if rows:
            self._db.execute(sa.insert(folder_usage), rows)


def _live_totals(file_ids: Iterable[str]) -> sa.Select[Any]:
    """Per folder: the files, their versions, version bytes and current bytes."""
    size = sa.func.coalesce(sa.func.sum(versions.c.size), 0)
    current = sa.func.coalesce(
        sa.func.sum(sa.case((versions.c.is_current, versions.c.size), else_=0)), 0
    )
    return (
        sa.select(
            files.c.folder_path,
            sa.func.count(sa.distinct(files.c.id)).label("files"),
            sa.func.count(versions.c.id).label("versions"),
            size.label("version_bytes"),
            current.label("current_bytes"),
        )
        .select_from(files.outerjoin(versions, versions.c.file_id == files.c.id))
        .where(files.c.id.in_(list(file_ids)))
        .group_by(files.c.folder_path)
    )


def _upsert(db: sa.Connection) -> Any:
    return _upsert_for(db.dialect.name)


@functools.lru_cache(maxsize=2)
def _upsert_for(dialect_name: str) -> Any:
    # Built once per dialect: making the construct was a tenth of a small upload's CPU.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(folder_usage)
    return statement.on_conflict_do_update(
        index_elements=["folder_path"],
        set_={c: folder_usage.c[c] + statement.excluded[c] for c in COLUMNS},
    )


# One query per source of counts; the same SQL backfills migration 0006.
_RECOUNT = (
    # files, versions, current and version bytes of live files, per folder
    "SELECT f.folder_path, COUNT(DISTINCT f.id), COUNT(v.id), "
    "COALESCE(SUM(CASE WHEN v.is_current THEN v.size ELSE 0 END), 0), "
    "COALESCE(SUM(v.size), 0), 0 "
    "FROM files f LEFT JOIN versions v ON v.file_id = f.id GROUP BY f.folder_path",
    # bytes of trashed versions, per folder of their file
    "SELECT tf.folder_path, 0, 0, 0, 0, COALESCE(SUM(tv.size), 0) "
    "FROM trashed_files tf JOIN trashed_versions tv ON tv.file_id = tf.id "
    "GROUP BY tf.folder_path",
    # the library's live blobs
    "SELECT '', COUNT(*), 0, COALESCE(SUM(size), 0), 0, 0 FROM blobs WHERE state = 'live'",
)
