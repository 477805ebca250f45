"""Removing bytes nothing needs, without ever removing bytes that something still needs.

Deletion has two phases. Inside the write transaction that drops a blob's last reference, its
row is marked `deleting` (by this process, for DELETION_LEASE_MS). After the commit, each
marked blob is deleted while its row is locked, only if it is still marked, unreferenced and
not leased by an upload (the rules: mediavault.storage.blob_queries); then the row goes.

Uploads lease their blob before publishing it and return the lease in the transaction that
references it, so bytes published by an upload that then fails are found and removed the same
way: by the upload itself, or, if its process died, by the collector.

The collector (`collect_abandoned`, run at start and periodically by every server process)
touches only what is provably abandoned: leases, deletions and staging objects whose process
is gone (mediavault.storage.liveness), or that are older than their lease or grace period. So
starting a process, `mediavault migrate` included, never disturbs another's work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mediavault.services.clock import now_ms
from mediavault.services.stores import Stores
from mediavault.storage.metadata import Transaction

log = logging.getLogger("mediavault.garbage")

# How long other processes leave a marked deletion to the process that marked it.
DELETION_LEASE_MS = 5 * 60_000


class Garbage:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self.marked: list[str] = []

    def collect(self, tx: Transaction, digests: Iterable[str]) -> None:
        until = now_ms() + DELETION_LEASE_MS
        self.marked += tx.mark_unreferenced_blobs(digests, self._stores.liveness.owner, until)


@contextmanager
def collecting_garbage(stores: Stores) -> Iterator[Garbage]:
    """Use as `with collecting_garbage(stores) as garbage, stores.meta.write() as tx:`.

    A transaction that fails leaves no marks (they roll back with it), so nothing is deleted.
    """
    garbage = Garbage(stores)
    yield garbage
    finish_deletions_after_commit(stores, garbage.marked)


def finish_deletions_after_commit(stores: Stores, digests: Iterable[str]) -> None:
    """Finish what a committed change left behind, never failing the change itself.

    The change has been acknowledged by its commit: a conflict or an unreachable store here
    must not turn it into an error (or, retried, into a 404). Whatever is not finished stays
    marked, and the collector finishes it once the deletion lease expires.
    """
    try:
        finish_deletions(stores, digests)
    except Exception:
        log.warning("deleting unreferenced blobs failed; the collector will retry", exc_info=True)


def finish_deletions(stores: Stores, digests: Iterable[str]) -> int:
    """Delete each blob whose row allows it now; returns how many went."""
    deleted = 0
    for digest in digests:
        with stores.meta.write() as tx:
            if tx.lock_blob_for_deletion(digest):
                stores.blobs.delete(digest)
                tx.forget_blob(digest)
                stores.renditions.forget(digest)
                deleted += 1
    return deleted


@dataclass
class Collected:
    leases: int = 0
    blobs: int = 0
    staging: int = 0

    def __bool__(self) -> bool:
        return bool(self.leases or self.blobs or self.staging)


def collect_abandoned(stores: Stores) -> Collected:
    """Remove leases, deletions and staging objects that no live process will finish."""
    now = now_ms()
    collected = Collected()
    alive = _LivenessCache(stores)
    with stores.meta.write() as tx:
        for lease in tx.blob_leases():
            if lease.expires_at < now or not alive(lease.owner):
                tx.release_lease(lease.id)
                collected.leases += 1
        unfinished = tx.unfinished_blobs()
    abandoned = [
        blob.digest
        for blob in unfinished
        if blob.state == "pending"  # any live upload of it holds a lease, checked under lock
        or blob.marked_by is None
        or (blob.marked_until or 0) < now
        or not alive(blob.marked_by)
    ]
    collected.blobs = finish_deletions(stores, abandoned)
    for staged in list(stores.blobs.staging_objects()):
        if staged.modified_ms < now - stores.staging_grace_ms or not alive(staged.owner):
            stores.blobs.remove_staging(staged.location)
            collected.staging += 1
    # Last: a dead owner's record may go only once nothing it left is waiting for cleanup.
    stores.liveness.forget_dead_owners()
    if collected:
        log.info(
            "removed what abandoned work left: %d leases, %d blobs, %d staging objects",
            collected.leases,
            collected.blobs,
            collected.staging,
        )
    return collected


class _LivenessCache:
    """One liveness question per owner per collection (each may be a database query)."""

    def __init__(self, stores: Stores) -> None:
        self._liveness = stores.liveness
        self._answers: dict[int, bool] = {}

    def __call__(self, owner: int) -> bool:
        if owner not in self._answers:
            # Owner 0 wrote before owners existed: only its age can tell.
            self._answers[owner] = owner == 0 or self._liveness.is_alive(owner)
        return self._answers[owner]
