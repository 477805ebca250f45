"""`mediavault fsck`: check every invariant of a library; repair only what is provably garbage.

Checked: one current version per file, version numbers unique and under their counter, every
version's blob recorded, present with its size and sha256, no blob that nothing references,
no leftover staging objects, no half-finished deletions, a consistent webhook outbox. Repair
removes unreferenced blobs, stale staging objects and finishes interrupted deletions; it never
touches anything a version references.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from mediavault.services.garbage import finish_deletions, finish_interrupted_deletions
from mediavault.services.stores import Stores


@dataclass
class FsckReport:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not inconsistencies

    @property
    def clean(self) -> bool:
        return not self.problems


def fsck(stores: Stores, repair: bool = False, verify_hashes: bool = True) -> FsckReport:
    """Check the library; with `repair`, remove the garbage first, then check what remains."""
    repaired = _repair(stores) if repair else []
    report = _check(stores, verify_hashes)
    report.repaired = repaired
    return report


def _check(stores: Stores, verify_hashes: bool) -> FsckReport:
    report = FsckReport()
    with stores.meta.read() as tx:
        for check, rows in tx.invariant_violations().items():
            for row in rows:
                report.problems.append(f"{check}: {', '.join(str(v) for v in row)}")
        recorded = tx.recorded_blobs()
        referenced = tx.referenced_blobs()
        marked = tx.blobs_marked_for_deletion()
        given_up = tx.given_up_event_count()
    for digest in marked:
        report.problems.append(f"blob upload or deletion interrupted: {digest}")
    stored = dict(stores.blobs.digests())
    for digest in sorted(referenced):
        size = stored.get(digest)
        if size is None:
            report.problems.append(f"blob missing: {digest}")
        elif size != recorded.get(digest):
            report.problems.append(f"blob {digest} has {size} bytes, not {recorded.get(digest)}")
        elif verify_hashes and _sha256(stores, digest) != digest:
            report.problems.append(f"blob {digest} is corrupt: its bytes hash differently")
    for digest in sorted((set(stored) | set(recorded)) - referenced):
        report.problems.append(f"blob nothing references: {digest}")
    staging = stores.blobs.staging_count()
    if staging:
        report.problems.append(f"{staging} staging objects left by interrupted uploads")
    if given_up:
        report.notes.append(f"{given_up} webhook events were given up after their retries")
    return report


def _repair(stores: Stores) -> list[str]:
    """Remove what nothing references; referenced rows and bytes are never touched."""
    done = []
    finish_interrupted_deletions(stores)
    with stores.meta.write() as tx:
        recorded = tx.recorded_blobs()
        referenced = tx.referenced_blobs()
        # Rows first, through the same locked two-phase path as any deletion.
        marked = tx.mark_unreferenced_blobs(set(recorded) - referenced)
    finish_deletions(stores, marked)
    # Bytes with no row at all: every upload reserves its row before publishing, so these
    # were left by a transaction that failed after publishing.
    unrecorded = [d for d, _ in stores.blobs.digests() if d not in recorded]
    for digest in unrecorded:
        stores.blobs.delete(digest)
    if marked or unrecorded:
        done.append(f"removed {len(marked) + len(unrecorded)} unreferenced blobs")
    staging = stores.blobs.staging_count()
    if staging:
        stores.blobs.clear_staging()
        done.append(f"removed {staging} staging objects")
    return done


def _sha256(stores: Stores, digest: str) -> str:
    content = hashlib.sha256()
    with stores.blobs.open(digest) as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            content.update(chunk)
    return content.hexdigest()
