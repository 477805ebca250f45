"""SQL for the blob rows: reservations (leases) by uploads, and the two-phase deletion.

A blob row is `live` (versions may reference it), `pending` (recorded by an upload that has
not committed its version yet) or `deleting` (unreferenced, its bytes about to go). Every rule
that decides whether bytes may be deleted is here, under the row's lock:

- bytes may go only while their row is locked, unreferenced (by versions and by the trash's
  versions alike), `deleting` or `pending`, and no lease is held on them;
- an upload takes a lease, in a short transaction, before it publishes; publishing happens
  outside any transaction; the version's transaction then turns the row `live` and returns
  the lease. Abandoned leases (expired, or their process gone) are removed by the collector
  (mediavault.services.garbage), never by another request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from mediavault.storage.dialects import insert_ignoring_duplicates
from mediavault.storage.tables import blob_leases, blobs, trashed_versions, versions


@dataclass(frozen=True)
class BlobLease:
    id: str
    digest: str
    owner: int
    expires_at: int


@dataclass(frozen=True)
class UnfinishedBlob:
    """A `pending` or `deleting` row: an upload or a deletion that has not finished (yet)."""

    digest: str
    state: str
    marked_by: int | None
    marked_until: int | None


class BlobQueries:
    _db: sa.Connection

    # Declared here, defined by storage.usage_queries (the Transaction has both).
    count_physical: Callable[..., None]

    def lease_blob(self, lease: BlobLease, size: int, now: int) -> bool:
        """Record the blob (`pending` if new) and hold a lease on it until the version commits.

        Returns True when the stored bytes must be rewritten on publishing: the row was marked
        for deletion, so its bytes may already be gone.
        """
        self._db.execute(
            insert_ignoring_duplicates(self._db, blobs, ["digest"]).values(
                digest=lease.digest, size=size, created_at=now, state="pending"
            )
        )
        state = self._locked_state(lease.digest)
        self._db.execute(
            sa.insert(blob_leases).values(
                id=lease.id, digest=lease.digest, owner=lease.owner, expires_at=lease.expires_at
            )
        )
        return state == "deleting"

    def claim_blob(self, digest: str, size: int, now: int, lease_id: str | None = None) -> bool:
        """Make the blob `live` before a version starts to reference it, and return the lease.

        Returns False when a lease was named but is no longer held (the collector judged the
        upload abandoned): the bytes may then be gone, and the caller must check them.
        """
        state = self._locked_state(digest)
        if state != "live":
            self.count_physical(size)
        if state is None:
            self._db.execute(
                sa.insert(blobs).values(digest=digest, size=size, created_at=now, state="live")
            )
        elif state != "live":
            self._db.execute(
                sa.update(blobs)
                .where(blobs.c.digest == digest)
                .values(state="live", marked_by=None, marked_until=None)
            )
        if lease_id is None:
            return True
        return self.release_lease(lease_id)

    def release_lease(self, lease_id: str) -> bool:
        deleted = self._db.execute(sa.delete(blob_leases).where(blob_leases.c.id == lease_id))
        return bool(deleted.rowcount)

    def mark_unreferenced_blobs(
        self, digests: Iterable[str], marked_by: int, marked_until: int
    ) -> list[str]:
        """Mark for deletion the given blobs that no version references any more."""
        marked = []
        for digest in sorted(set(digests)):
            if self._locked_state(digest) == "live" and not self._referenced(digest):
                unreferenced = self._db.execute(
                    sa.update(blobs)
                    .where(blobs.c.digest == digest)
                    .values(state="deleting", marked_by=marked_by, marked_until=marked_until)
                    .returning(blobs.c.size)
                )
                self.count_physical(unreferenced.scalar_one(), sign=-1)
                marked.append(digest)
        return marked

    def lock_blob_for_deletion(self, digest: str) -> bool:
        """Lock a `deleting` or `pending` blob's row; True when its bytes may go now."""
        if self._locked_state(digest) not in ("deleting", "pending"):
            return False
        if self._referenced(digest):
            return False
        leased = self._db.execute(
            sa.select(blob_leases.c.id).where(blob_leases.c.digest == digest).limit(1)
        ).first()
        return leased is None

    def forget_blob(self, digest: str) -> None:
        self._db.execute(sa.delete(blobs).where(blobs.c.digest == digest))

    def unfinished_blobs(self) -> list[UnfinishedBlob]:
        query = sa.select(
            blobs.c.digest, blobs.c.state, blobs.c.marked_by, blobs.c.marked_until
        ).where(blobs.c.state.in_(["deleting", "pending"]))
        return [UnfinishedBlob(*row) for row in self._db.execute(query)]

    def blob_leases(self) -> list[BlobLease]:
        query = sa.select(
            blob_leases.c.id, blob_leases.c.digest, blob_leases.c.owner, blob_leases.c.expires_at
        )
        return [BlobLease(*row) for row in self._db.execute(query)]

    def _locked_state(self, digest: str) -> str | None:
        row = self._db.execute(
            sa.select(blobs.c.state).where(blobs.c.digest == digest).with_for_update()
        ).first()
        return None if row is None else str(row.state)

    def _referenced(self, digest: str) -> bool:
        """By a version, or by a version in the trash: both need the bytes."""
        for table in (versions, trashed_versions):
            row = self._db.execute(
                sa.select(table.c.id).where(table.c.blob_digest == digest).limit(1)
            ).first()
            if row is not None:
                return True
        return False
