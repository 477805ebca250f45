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
    report = FsckReport()
    if repair:
        finish_interrupted_deletions(stores)
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
    orphans = sorted((set(stored) | set(recorded)) - referenced)
    for digest in orphans:
        report.problems.append(f"blob nothing references: {digest}")
    staging = stores.blobs.staging_count()
    if staging:
        report.problems.append(f"{staging} staging objects left by interrupted uploads")
    if given_up:
        report.notes.append(f"{given_up} webhook events were given up after their retries")
    if repair:
        _repair(stores, report, orphans, recorded, staging)
    return report


def _repair(
    stores: Stores, report: FsckReport, orphans: list[str], recorded: dict[str, int], staging: int
) -> None:
    with stores.meta.write() as tx:
        marked = tx.mark_unreferenced_blobs(d for d in orphans if d in recorded)
    finish_deletions(stores, marked)
    for digest in orphans:
        if digest not in recorded:
            # Bytes with no row at all: published by a transaction that then failed.
            stores.blobs.delete(digest)
    if orphans:
        report.repaired.append(f"removed {len(orphans)} unreferenced blobs")
    if staging:
        stores.blobs.clear_staging()
        report.repaired.append(f"removed {staging} staging objects")
    fixed = {f"blob nothing references: {d}" for d in orphans}
    fixed |= {p for p in report.problems if "staging objects" in p or "interrupted" in p}
    report.problems = [p for p in report.problems if p not in fixed]


def _sha256(stores: Stores, digest: str) -> str:
    content = hashlib.sha256()
    with stores.blobs.open(digest) as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            content.update(chunk)
    return content.hexdigest()
