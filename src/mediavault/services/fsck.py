"""`mediavault fsck`: check every invariant of a library; repair only what is provably garbage.

Checked: one current version per file, version numbers unique and under their counter, every
version's blob recorded, present with its size and sha256, no blob that nothing references,
no leftover staging objects, no half-finished deletions, a consistent webhook outbox, a
rendition cache holding nothing but renditions of existing blobs, trashed files whose blobs are
all there, storage counters (folder_usage) equal to a recount, and search rows (version_tags,
version_custom_values) equal to what each version's tags and custom metadata make. Repair
rewrites the counters from the recount and the search rows from the versions (both are derived;
the versions hold). Repair removes unreferenced
blobs, stale staging objects, the cache's garbage and finishes interrupted deletions; it never
touches anything a version references.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from mediavault.services.clock import now_ms
from mediavault.services.garbage import collect_abandoned, collecting_garbage
from mediavault.services.stores import Stores
from mediavault.storage.usage_queries import BLOBS_ROW, Usage


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
    repaired = repair_library(stores) if repair else []
    report = _check(stores, verify_hashes, repair)
    report.repaired = repaired + report.repaired
    return report


def _check(stores: Stores, verify_hashes: bool, repair: bool = False) -> FsckReport:
    report = FsckReport()
    now = now_ms()
    alive = stores.liveness.is_alive
    with stores.meta.read() as tx:
        for check, rows in tx.invariant_violations().items():
            for row in rows:
                report.problems.append(f"{check}: {', '.join(str(v) for v in row)}")
        recorded = tx.recorded_blobs()
        referenced = tx.referenced_blobs()
        unfinished = tx.unfinished_blobs()
        leases = tx.blob_leases()
        given_up = tx.given_up_event_count()
        usage_recorded, usage_counted = tx.recorded_usage(), tx.recount_usage()
        search_rows = tx.search_row_mismatches()
    # Work another live process is doing is reported, never counted against the library.
    live_leases = [x for x in leases if x.expires_at >= now and alive(x.owner)]
    in_flight = {x.digest for x in live_leases} | {
        b.digest
        for b in unfinished
        if b.state == "deleting" and (b.marked_until or 0) >= now and alive(b.marked_by or 0)
    }
    for lease in leases:
        if lease not in live_leases:
            report.problems.append(f"blob lease of an abandoned upload: {lease.digest}")
    for blob in unfinished:
        if blob.digest not in in_flight:
            report.problems.append(f"blob upload or deletion interrupted: {blob.digest}")
    stored = dict(stores.blobs.digests())
    for digest in sorted(referenced):
        size = stored.get(digest)
        if size is None:
            report.problems.append(f"blob missing: {digest}")
        elif size != recorded.get(digest):
            report.problems.append(f"blob {digest} has {size} bytes, not {recorded.get(digest)}")
        elif verify_hashes and _sha256(stores, digest) != digest:
            report.problems.append(f"blob {digest} is corrupt: its bytes hash differently")
    unfinished_digests = {b.digest for b in unfinished}
    for digest in sorted((set(stored) | set(recorded)) - referenced - unfinished_digests):
        if digest not in in_flight:
            report.problems.append(f"blob nothing references: {digest}")
    report.problems += _usage_mismatches(usage_recorded, usage_counted)
    report.problems += _search_row_problems(search_rows)
    staged = list(stores.blobs.staging_objects())
    abandoned = [x for x in staged if _abandoned_staging(stores, x.owner, x.modified_ms, now)]
    if abandoned:
        report.problems.append(f"{len(abandoned)} staging objects left by interrupted uploads")
    if in_flight or len(staged) > len(abandoned):
        report.notes.append(
            f"work in flight in live processes: {len(staged) - len(abandoned)} staging "
            f"objects, {len(in_flight)} blobs being uploaded or deleted"
        )
    if given_up:
        report.notes.append(f"{given_up} webhook events were given up after their retries")
    # The rendition cache: renditions of blobs that are gone, unknown files, crash leftovers.
    # Blobs being uploaded or deleted count as known (their deletion forgets their renditions).
    known = referenced | unfinished_digests
    if repair:  # remove the garbage, then report what remains, as for the library
        report.repaired += stores.renditions.check(known_digests=known, repair=True).repaired
    cache = stores.renditions.check(known_digests=known)
    report.problems += cache.problems
    report.notes += cache.notes
    return report


def _usage_mismatches(recorded: dict[str, Usage], counted: dict[str, Usage]) -> list[str]:
    """Storage counters that differ from a recount (a missing row counts as zeros)."""
    problems = []
    for path in sorted(set(recorded) | set(counted)):
        kept, actual = recorded.get(path, Usage()), counted.get(path, Usage())
        if kept != actual:
            name = f"folder {path}" if path != BLOBS_ROW else "the library's blobs"
            problems.append(f"storage counters of {name}: kept {kept}, counted {actual}")
    return problems


_SHOWN = 100


def _search_row_problems(version_ids: list[str]) -> list[str]:
    """One line per version, up to a hundred: enough to look into, not a flood."""
    shown = [
        f"search rows (tags, custom metadata values) not those of version {version_id}"
        for version_id in version_ids[:_SHOWN]
    ]
    if len(version_ids) > _SHOWN:
        shown.append(f"search rows of {len(version_ids) - _SHOWN} more versions differ too")
    return shown


def _abandoned_staging(stores: Stores, owner: int, modified_ms: int, now: int) -> bool:
    if modified_ms < now - stores.staging_grace_ms:
        return True
    return owner != 0 and not stores.liveness.is_alive(owner)


def repair_library(stores: Stores) -> list[str]:
    """Remove what nothing references; referenced rows and bytes are never touched.

    Only while no other process works on the library (the CLI checks it first): then
    nothing unreferenced can be an upload in flight.
    """
    done = []
    collected = collect_abandoned(stores)
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        recorded = tx.recorded_blobs()
        # Rows first, through the same locked two-phase path as any deletion.
        garbage.collect(tx, set(recorded) - tx.referenced_blobs())
        known = set(recorded) | {b.digest for b in tx.unfinished_blobs()}
    with stores.meta.write() as tx:
        # After the blob repairs above, whose own changes the counters already counted.
        recounted = tx.recount_usage()
        if _usage_mismatches(tx.recorded_usage(), recounted):
            tx.rewrite_usage(recounted)
            done.append("rewrote the storage counters from a recount")
        drifted = tx.search_row_mismatches()
        if drifted:
            tx.rebuild_search_rows(drifted)
            done.append(f"rebuilt the search rows of {len(drifted)} versions")
    # Bytes with no row at all: left by an upload that died between publishing and recording
    # a row of the old layout, or restored from a backup of the blobs alone.
    unrecorded = [d for d, _ in stores.blobs.digests() if d not in known]
    for digest in unrecorded:
        stores.blobs.delete(digest)
    blobs = collected.blobs + len(garbage.marked) + len(unrecorded)
    if blobs:
        done.append(f"removed {blobs} unreferenced blobs")
    if collected.leases:
        done.append(f"released {collected.leases} leases of abandoned uploads")
    if collected.staging:
        done.append(f"removed {collected.staging} staging objects")
    return done


def _sha256(stores: Stores, digest: str) -> str:
    content = hashlib.sha256()
    with stores.blobs.open(digest) as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            content.update(chunk)
    return content.hexdigest()
