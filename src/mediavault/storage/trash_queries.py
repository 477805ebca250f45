"""SQL for the trash: a deleted file and its versions move whole into trashed_files and
trashed_versions (same ids and columns), and back on restore.

`files` and `versions` hold only live rows, so every ImageKit query reads them as before and a
trashed file's path is free at once. Tag rows (version_tags) and custom metadata rows
(version_custom_values) are derived from the versions' tags and custom metadata: dropped on the
way in, rebuilt on the way out. Pins (version_pins) go with the versions
rows they reference: a restored file comes back unpinned (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import FileVersion
from mediavault.storage.dialects import escape_like
from mediavault.storage.rows import custom_value_rows, file_from, tag_rows, version_from
from mediavault.storage.tables import (
    file_events,
    files,
    trashed_files,
    trashed_versions,
    version_custom_values,
    version_tags,
    versions,
)


@dataclass(frozen=True)
class TrashedFile:
    item: FileVersion  # the file and its current version, as they were when deleted
    deleted_at: int
    version_count: int


class TrashQueries:
    _db: sa.Connection
    # Defined by storage.usage_queries (the Transaction has both).
    count_files_leaving: Callable[..., None]
    count_usage: Callable[..., None]
    _folder_of: dict[str, str]

    def trash_files(self, file_ids: list[str], now: int) -> None:
        """Move the files with all their versions into the trash; their blobs stay referenced."""
        if not file_ids:
            return
        self.count_files_leaving(file_ids, to_trash=True)
        file_columns = [c.name for c in files.columns]
        self._db.execute(
            sa.insert(trashed_files).from_select(
                [*file_columns, "deleted_at"],
                sa.select(*files.columns, sa.literal(now, sa.BigInteger)).where(
                    files.c.id.in_(file_ids)
                ),
            )
        )
        version_columns = [c.name for c in versions.columns]
        self._db.execute(
            sa.insert(trashed_versions).from_select(
                version_columns,
                sa.select(*versions.columns).where(versions.c.file_id.in_(file_ids)),
            )
        )
        # Tag rows, custom metadata rows and pins go with their versions (ON DELETE CASCADE).
        self._db.execute(sa.delete(versions).where(versions.c.file_id.in_(file_ids)))
        self._db.execute(sa.delete(files).where(files.c.id.in_(file_ids)))

    def trashed_file(self, file_id: str, *, lock: bool = False) -> TrashedFile | None:
        query = _TRASH_LISTING.where(trashed_files.c.id == file_id)
        if lock:
            query = query.with_for_update(of=trashed_files)
        row = self._db.execute(query).first()
        return _trashed_from(row._mapping) if row else None

    def list_trash(self, prefix: str, skip: int, limit: int) -> list[TrashedFile]:
        """Newest deletion first."""
        query = _TRASH_LISTING
        if prefix != "/":
            pattern = escape_like(prefix) + "%"
            query = query.where(trashed_files.c.folder_path.like(pattern, escape="\\"))
        query = query.order_by(trashed_files.c.deleted_at.desc(), trashed_files.c.id.desc())
        rows = self._db.execute(query.offset(skip).limit(limit))
        return [_trashed_from(row._mapping) for row in rows]

    def untrash(self, file_id: str, name: str, folder_path: str, now: int) -> None:
        """Put the file back with every version and id, at folder_path + name."""
        file_columns = [c.name for c in files.columns]
        values: dict[str, Any] = {
            "name": sa.literal(name, sa.String),
            "folder_path": sa.literal(folder_path, sa.Text),
            "file_path": sa.literal(folder_path + name, sa.Text),
            "updated_at": sa.literal(now, sa.BigInteger),
        }
        self._db.execute(
            sa.insert(files).from_select(
                file_columns,
                sa.select(*(values.get(c, trashed_files.c[c]) for c in file_columns)).where(
                    trashed_files.c.id == file_id
                ),
            )
        )
        version_columns = [c.name for c in versions.columns]
        self._db.execute(
            sa.insert(versions).from_select(
                version_columns,
                sa.select(*(trashed_versions.c[c] for c in version_columns)).where(
                    trashed_versions.c.file_id == file_id
                ),
            )
        )
        restored = [
            version_from(row._mapping)
            for row in self._db.execute(sa.select(versions).where(versions.c.file_id == file_id))
        ]
        rows = [r for v in restored for r in tag_rows(v.id, v.metadata)]
        if rows:
            self._db.execute(sa.insert(version_tags), rows)
        custom = [r for v in restored for r in custom_value_rows(v.id, v.metadata)]
        if custom:
            self._db.execute(sa.insert(version_custom_values), custom)
        self._drop_trashed([file_id])
        self._folder_of[file_id] = folder_path
        self.count_usage(
            folder_path,
            files=1,
            versions=len(restored),
            version_bytes=sum(v.content.size for v in restored),
            current_bytes=sum(v.content.size for v in restored if v.is_current),
        )

    def purge_trashed(self, file_ids: list[str]) -> list[str]:
        """Delete trashed files for good, with their history; returns their blobs' digests."""
        if not file_ids:
            return []
        digests = self._db.scalars(
            sa.select(trashed_versions.c.blob_digest)
            .where(trashed_versions.c.file_id.in_(file_ids))
            .distinct()
        ).all()
        self._drop_trashed(file_ids)
        self._db.execute(sa.delete(file_events).where(file_events.c.file_id.in_(file_ids)))
        return list(digests)

    def expired_trash(self, deleted_before: int, limit: int) -> list[str]:
        """Locked: workers purging at once each take other files (SKIP LOCKED on PostgreSQL;
        SQLite has one writer), so no file's bytes leave the counters twice."""
        query = (
            sa.select(trashed_files.c.id)
            .where(trashed_files.c.deleted_at < deleted_before)
            .order_by(trashed_files.c.deleted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self._db.scalars(query))

    def is_trashed(self, file_id: str) -> bool:
        query = sa.select(trashed_files.c.id).where(trashed_files.c.id == file_id)
        return self._db.execute(query).first() is not None

    def _drop_trashed(self, file_ids: list[str]) -> None:
        """Remove the trashed rows, taking their bytes off the folders' trash counters."""
        totals = (
            sa.select(trashed_files.c.folder_path, sa.func.sum(trashed_versions.c.size))
            .select_from(
                trashed_files.join(
                    trashed_versions, trashed_versions.c.file_id == trashed_files.c.id
                )
            )
            .where(trashed_files.c.id.in_(file_ids))
            .group_by(trashed_files.c.folder_path)
        )
        for folder_path, size in self._db.execute(totals):
            self.count_usage(folder_path, trash_bytes=-int(size or 0))
        self._db.execute(
            sa.delete(trashed_versions).where(trashed_versions.c.file_id.in_(file_ids))
        )
        self._db.execute(sa.delete(trashed_files).where(trashed_files.c.id.in_(file_ids)))


_COUNTED = trashed_versions.alias("counted")
_VERSION_COUNT = (
    sa.select(sa.func.count())
    .select_from(_COUNTED)
    .where(_COUNTED.c.file_id == trashed_files.c.id)
    .correlate(trashed_files)
    .scalar_subquery()
    .label("version_count")
)
_TRASH_LISTING = sa.select(
    *(c.label(f"f_{c.name}") for c in trashed_files.columns),
    *trashed_versions.columns,
    _VERSION_COUNT,
).select_from(
    trashed_files.join(
        trashed_versions,
        sa.and_(trashed_versions.c.file_id == trashed_files.c.id, trashed_versions.c.is_current),
    )
)


def _trashed_from(row: Any) -> TrashedFile:
    item = FileVersion(file_from(row, prefix="f_"), version_from(row))
    return TrashedFile(item, int(row["f_deleted_at"]), int(row["version_count"]))
