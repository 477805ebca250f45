"""SQL for retention policies and version pins."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from mediavault.domain.retention import Policy, Rules, rules_from_json, rules_json
from mediavault.storage.tables import (
    files,
    retention_policies,
    trashed_versions,
    version_pins,
    versions,
)


class RetentionQueries:
    _db: sa.Connection

    # -- policies -----------------------------------------------------------------------------

    def insert_policy(self, policy_id: str, folder_path: str, rules: Rules, now: int) -> None:
        body = rules_json(rules)
        self._db.execute(
            sa.insert(retention_policies),
            {
                "id": policy_id,
                "folder_path": folder_path,
                "keep_last": body.get("keepLast"),
                "keep_days": body.get("keepDays"),
                "thin": body.get("thin"),
                "created_at": now,
                "updated_at": now,
            },
        )

    def policies(self) -> list[Policy]:
        query = sa.select(retention_policies).order_by(retention_policies.c.folder_path)
        return [
            Policy(
                r.id,
                r.folder_path,
                rules_from_json(r.keep_last, r.keep_days, r.thin),
                r.created_at,
                r.updated_at,
            )
            for r in self._db.execute(query)
        ]

    def policy_for_folder_exists(self, folder_path: str) -> bool:
        query = sa.select(retention_policies.c.id).where(
            retention_policies.c.folder_path == folder_path
        )
        return self._db.execute(query).first() is not None

    def delete_policy(self, policy_id: str) -> bool:
        query = sa.delete(retention_policies).where(retention_policies.c.id == policy_id)
        return bool(self._db.execute(query).rowcount)

    def file_ids_under(self, folder_path: str) -> list[str]:
        """Files in the folder or any folder below it, oldest first."""
        query = (
            sa.select(files.c.id)
            .where(files.c.folder_path.startswith(folder_path, autoescape=True))
            .order_by(files.c.created_at, files.c.id)
        )
        return list(self._db.scalars(query))

    def blob_references(self, digests: Iterable[str]) -> list[tuple[str, str]]:
        """(digest, version id) of every version, trashed ones included, referencing one of
        `digests`."""
        wanted = list(digests)
        live = sa.select(versions.c.blob_digest, versions.c.id).where(
            versions.c.blob_digest.in_(wanted)
        )
        trashed = sa.select(trashed_versions.c.blob_digest, trashed_versions.c.id).where(
            trashed_versions.c.blob_digest.in_(wanted)
        )
        return [(row[0], row[1]) for row in self._db.execute(live.union_all(trashed))]

    # -- pins ---------------------------------------------------------------------------------

    def pinned_version_ids(self, file_id: str) -> set[str]:
        # Through versions, not version_pins.file_id: a move can give a version another file.
        query = (
            sa.select(version_pins.c.version_id)
            .join(versions, versions.c.id == version_pins.c.version_id)
            .where(versions.c.file_id == file_id)
        )
        return set(self._db.scalars(query))

    def is_pinned(self, version_id: str) -> bool:
        query = sa.select(version_pins.c.version_id).where(version_pins.c.version_id == version_id)
        return self._db.execute(query).first() is not None

    def pin_version(self, file_id: str, version_id: str, now: int) -> None:
        if not self.is_pinned(version_id):
            self._db.execute(
                sa.insert(version_pins),
                {"version_id": version_id, "file_id": file_id, "pinned_at": now},
            )

    def unpin_version(self, version_id: str) -> None:
        self._db.execute(sa.delete(version_pins).where(version_pins.c.version_id == version_id))
