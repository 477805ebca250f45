"""Retention policies: declare them per folder, preview them, apply them.

Which versions a policy keeps is decided in mediavault.domain.retention. Applying works file by
file, each in a short write transaction that locks the file and decides again from what is
there now: a version uploaded, restored or pinned since the preview is seen, and the current
version is never removed. The deletion itself is the API's (services.versions.remove_version:
the webhook event, then the blob's two-phase deletion after the commit), plus a
`retention.applied` history event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mediavault.domain.ids import is_object_id, new_object_id
from mediavault.domain.models import Version
from mediavault.domain.retention import Candidate, Policy, governing, parse_policy, to_remove
from mediavault.errors import RetentionPolicyExists, RetentionPolicyNotFound
from mediavault.ops import metrics
from mediavault.services.clock import now_ms
from mediavault.services.garbage import collecting_garbage
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.services.versions import remove_version
from mediavault.storage.metadata import Transaction

EVENT = "retention.applied"
_CHUNK = 500  # digests per IN (...) list


@dataclass(frozen=True)
class Removal:
    """A version a policy removes (or would remove), and why."""

    policy_id: str
    version: Version
    reason: str


@dataclass(frozen=True)
class Plan:
    removals: list[Removal]
    bytes_freed: int  # bytes of the blobs no remaining version (or trashed one) references


@retry_on_conflict
def create_policy(stores: Stores, body: dict[str, Any]) -> Policy:
    folder_path, rules = parse_policy(body)
    now = now_ms()
    policy = Policy(new_object_id(), folder_path, rules, now, now)
    with stores.meta.write() as tx:
        if tx.policy_for_folder_exists(folder_path):
            raise RetentionPolicyExists()
        tx.insert_policy(policy.id, folder_path, rules, now)
    return policy


def list_policies(stores: Stores) -> list[Policy]:
    with stores.meta.read() as tx:
        return tx.policies()


@retry_on_conflict
def delete_policy(stores: Stores, policy_id: str) -> None:
    with stores.meta.write() as tx:
        if not is_object_id(policy_id) or not tx.delete_policy(policy_id.lower()):
            raise RetentionPolicyNotFound()


def preview(stores: Stores, policy_id: str) -> Plan:
    """What applying this policy would remove now, changing nothing."""
    with stores.meta.read() as tx:
        policies = tx.policies()
        policy = next(
            (p for p in policies if is_object_id(policy_id) and p.id == policy_id.lower()), None
        )
        if policy is None:
            raise RetentionPolicyNotFound()
        now = now_ms()
        removals = [
            removal
            for file_id in tx.file_ids_under(policy.folder_path)
            for removal in _plan_file(tx, policies, file_id, now)
            if removal.policy_id == policy.id
        ]
        return Plan(removals, _bytes_freed(tx, removals))


def governed_file_ids(stores: Stores) -> list[str]:
    """Every file some policy governs (the files to visit for a dry run or an apply)."""
    with stores.meta.read() as tx:
        found: dict[str, None] = {}
        for policy in tx.policies():
            found.update(dict.fromkeys(tx.file_ids_under(policy.folder_path)))
        return list(found)


def planned(stores: Stores, file_ids: Iterable[str]) -> list[Removal]:
    """What applying every policy to these files would remove now, changing nothing."""
    with stores.meta.read() as tx:
        policies, now = tx.policies(), now_ms()
        return [r for file_id in file_ids for r in _plan_file(tx, policies, file_id, now)]


def apply_to_file(stores: Stores, file_id: str) -> list[Removal]:
    """Remove what the file's policy does not keep. A read first: most files of a run have
    nothing to remove, and a write transaction each would queue behind every upload."""
    if not planned(stores, [file_id]):
        return []
    return _apply_to_file(stores, file_id)


@retry_on_conflict
def _apply_to_file(stores: Stores, file_id: str) -> list[Removal]:
    """In one short transaction under the file's lock; the blobs that became unreferenced go
    after the commit."""
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        if tx.get_file(file_id, lock=True) is None:
            return []
        now = now_ms()
        # Decided again here, under the lock: an upload, restore or pin since is seen.
        removals = _plan_file(tx, tx.policies(), file_id, now)
        for removal in removals:
            remove_version(stores, tx, garbage, removal.version, now)
            details = {"policyId": removal.policy_id, "reason": removal.reason}
            tx.add_file_event(file_id, EVENT, now, removal.version.id, details)
    metrics.VERSIONS_DELETED.inc(len(removals))  # committed
    return removals


def apply_all(stores: Stores) -> list[Removal]:
    """Apply every policy to every file it governs (the periodic task)."""
    return [r for file_id in governed_file_ids(stores) for r in apply_to_file(stores, file_id)]


def _plan_file(tx: Transaction, policies: list[Policy], file_id: str, now: int) -> list[Removal]:
    file = tx.get_file(file_id)
    policy = governing(policies, file.folder_path) if file is not None else None
    if policy is None:
        return []
    found = tx.list_versions(file_id)
    pinned = tx.pinned_version_ids(file_id)
    by_id = {v.id: v for v in found}
    candidates = [
        Candidate(v.id, v.number, v.created_at, v.is_current, v.id in pinned) for v in found
    ]
    return [
        Removal(policy.id, by_id[candidate.id], reason)
        for candidate, reason in to_remove(policy.rules, candidates, now)
    ]


def bytes_freed(stores: Stores, removals: list[Removal]) -> int:
    """What removing these versions would free (for a plan built file by file)."""
    with stores.meta.read() as tx:
        return _bytes_freed(tx, removals)


def _bytes_freed(tx: Transaction, removals: list[Removal]) -> int:
    """Sizes of the distinct blobs that only removed versions reference."""
    sizes = {r.version.content.digest: r.version.content.size for r in removals}
    removed_ids = {r.version.id for r in removals}
    digests = list(sizes)
    kept: set[str] = set()
    for start in range(0, len(digests), _CHUNK):
        references = tx.blob_references(digests[start : start + _CHUNK])
        kept.update(digest for digest, version_id in references if version_id not in removed_ids)
    return sum(size for digest, size in sizes.items() if digest not in kept)
