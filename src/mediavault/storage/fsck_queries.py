"""SQL for the consistency check: each query returns the rows that break one invariant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import VersionMetadata
from mediavault.storage.rows import custom_value_rows, tag_rows
from mediavault.storage.tables import version_custom_values, version_tags, versions

# Versions read at a time when comparing their search rows: bounded memory on any library.
_SEARCH_ROWS_CHUNK = 5000
# What a version's search rows are made from (storage/rows.py: tag_rows, custom_value_rows).
SEARCH_SOURCES = (versions.c.id, versions.c.tags, versions.c.ai_tags, versions.c.custom_metadata)


def search_metadata(row: Any) -> VersionMetadata:
    """The part of a version's metadata its search rows come from, from a SEARCH_SOURCES row."""
    return VersionMetadata(tags=row[1], ai_tags=row[2], custom_metadata=row[3])


CHECKS = {
    "files without exactly one current version": (
        "SELECT f.id, COUNT(v.id) FROM files f LEFT JOIN versions v "
        "ON v.file_id = f.id AND v.is_current GROUP BY f.id HAVING COUNT(v.id) != 1"
    ),
    "version numbers used twice in one file": (
        "SELECT file_id, number FROM versions GROUP BY file_id, number HAVING COUNT(*) > 1"
    ),
    "version numbers above their file's counter": (
        "SELECT v.id, v.number FROM versions v JOIN files f ON f.id = v.file_id "
        "WHERE v.number > f.last_version_number"
    ),
    "versions whose blob is not recorded, or recorded with another size": (
        "SELECT v.id, v.blob_digest FROM versions v LEFT JOIN blobs b "
        "ON b.digest = v.blob_digest WHERE b.digest IS NULL OR b.size != v.size "
        "OR b.state != 'live'"
    ),
    "trashed versions whose blob is not recorded, or recorded with another size": (
        "SELECT v.id, v.blob_digest FROM trashed_versions v LEFT JOIN blobs b "
        "ON b.digest = v.blob_digest WHERE b.digest IS NULL OR b.size != v.size "
        "OR b.state != 'live'"
    ),
    "trashed files without exactly one current version": (
        "SELECT f.id, COUNT(v.id) FROM trashed_files f LEFT JOIN trashed_versions v "
        "ON v.file_id = f.id AND v.is_current GROUP BY f.id HAVING COUNT(v.id) != 1"
    ),
    "webhook events both delivered and given up": (
        "SELECT id FROM webhook_outbox WHERE delivered_at IS NOT NULL AND failed_at IS NOT NULL"
    ),
}


class FsckQueries:
    _db: sa.Connection

    def invariant_violations(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            name: [tuple(row) for row in self._db.exec_driver_sql(query)]
            for name, query in CHECKS.items()
        }

    def recorded_blobs(self) -> dict[str, int]:
        rows = self._db.exec_driver_sql("SELECT digest, size FROM blobs WHERE state = 'live'")
        return {digest: size for digest, size in rows}

    def referenced_blobs(self) -> set[str]:
        """By versions, and by versions in the trash (their bytes stay until the purge)."""
        query = "SELECT blob_digest FROM versions UNION SELECT blob_digest FROM trashed_versions"
        return set(self._db.scalars(sa.text(query)))

    def given_up_event_count(self) -> int:
        query = "SELECT COUNT(*) FROM webhook_outbox WHERE failed_at IS NOT NULL"
        return int(self._db.exec_driver_sql(query).scalar_one())

    def search_row_mismatches(self) -> list[str]:
        """Ids of the versions whose search rows (version_tags, version_custom_values) are not
        the ones their tags and custom metadata make (storage/rows.py), and of rows whose
        version is gone. A search reads candidates from those rows, so a missing one would
        hide a file from it without a word; the JSON is what holds."""
        mismatched: list[str] = []
        for chunk in self._versions_in_chunks():
            first, last = chunk[0][0], chunk[-1][0]
            expected_tags: set[tuple[Any, ...]] = set()
            expected_values: set[tuple[Any, ...]] = set()
            for row in chunk:
                version_id, meta = row[0], search_metadata(row)
                expected_tags.update(_key(version_tags, r) for r in tag_rows(version_id, meta))
                expected_values.update(
                    _key(version_custom_values, r) for r in custom_value_rows(version_id, meta)
                )
            found_tags = self._rows_between(version_tags, first, last)
            found_values = self._rows_between(version_custom_values, first, last)
            differing = (expected_tags ^ found_tags) | (expected_values ^ found_values)
            mismatched.extend({row[0] for row in differing})
        for table in (version_tags, version_custom_values):
            orphans = sa.select(table.c.version_id).where(
                table.c.version_id.not_in(sa.select(versions.c.id))
            )
            mismatched.extend(self._db.scalars(orphans.distinct()))
        return sorted(set(mismatched))

    def _versions_in_chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        after = ""
        while True:
            statement = (
                sa.select(*SEARCH_SOURCES)
                .where(versions.c.id > after)
                .order_by(versions.c.id)
                .limit(_SEARCH_ROWS_CHUNK)
            )
            chunk = [tuple(row) for row in self._db.execute(statement)]
            if not chunk:
                return
            yield chunk
            after = chunk[-1][0]

    def _rows_between(self, table: sa.Table, first: str, last: str) -> set[tuple[Any, ...]]:
        statement = sa.select(*table.c).where(table.c.version_id.between(first, last))
        return {tuple(row) for row in self._db.execute(statement)}


def _key(table: sa.Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """A derived row as the table returns it: its values in the table's column order."""
    return tuple(row[column.name] for column in table.c)
