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

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mediavault.storage.prepared import Statements
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
    _sql: Statements

    # Declared here, defined by storage.usage_queries (the Transaction has both).
    count_physical: Callable[..., None]

    def lease_blob(self, lease: BlobLease, size: int, now: int) -> bool:
        """Record the blob (`pending` if new) and hold a lease on it until the version commits.

        Returns True when the stored bytes must be rewritten on publishing: the row was marked
        for deletion, so its bytes may already be gone.
        """
        self._sql.execute(
            _insert_blob_if_new(self._db.dialect.name),
            {"digest": lease.digest, "size": size, "created_at": now, "state": "pending"},
        )
        state = self._locked_state(lease.digest)
        self._sql.execute(
            _INSERT_LEASE,
            {
                "id": lease.id,
                "digest": lease.digest,
                "owner": lease.owner,
                "expires_at": lease.expires_at,
            },
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
            self._sql.execute(
                _INSERT_BLOB, {"digest": digest, "size": size, "created_at": now, "state": "live"}
            )
        elif state != "live":
            self._sql.execute(_MAKE_LIVE, {"b_digest": digest})
        if lease_id is None:
            return True
        return self.release_lease(lease_id)

    def release_lease(self, lease_id: str) -> bool:
        deleted = self._sql.execute(_DELETE_LEASE, {"b_id": lease_id})
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
        leased = self._sql.execute(_LEASE_OF, {"b_digest": digest}).first()
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
        row = self._sql.execute(_LOCKED_STATE, {"b_digest": digest}).first()
        return None if row is None else str(row.state)

    def _referenced(self, digest: str) -> bool:
        """By a version, or by a version in the trash: both need the bytes."""
        for query in _REFERENCES:
            if self._sql.execute(query, {"b_digest": digest}).first() is not None:
                return True
        return False


# The statements of the upload and deletion paths, built once with bound parameters (same SQL
# as building them for each call, which cost more than running them: bench/profile_writes.py).
# Parameters are named b_* where a column of the same name is set by the statement.
_LOCKED_STATE = (
    sa.select(blobs.c.state).where(blobs.c.digest == sa.bindparam("b_digest")).with_for_update()
)
_INSERT_BLOB = sa.insert(blobs)
_MAKE_LIVE = (
    sa.update(blobs)
    .where(blobs.c.digest == sa.bindparam("b_digest"))
    .values(state="live", marked_by=None, marked_until=None)
)
_INSERT_LEASE = sa.insert(blob_leases)
_DELETE_LEASE = sa.delete(blob_leases).where(blob_leases.c.id == sa.bindparam("b_id"))
_LEASE_OF = (
    sa.select(blob_leases.c.id).where(blob_leases.c.digest == sa.bindparam("b_digest")).limit(1)
)
_REFERENCES = tuple(
    sa.select(table.c.id).where(table.c.blob_digest == sa.bindparam("b_digest")).limit(1)
    for table in (versions, trashed_versions)
)


@functools.lru_cache(maxsize=2)
def _insert_blob_if_new(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT (digest) DO NOTHING (as storage.dialects builds it), once per
    dialect."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(blobs).on_conflict_do_nothing(index_elements=["digest"])
