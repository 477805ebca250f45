"""SQL for the consistency check: each query returns the rows that break one invariant."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

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
