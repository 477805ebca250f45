"""The four version endpoints: list, get, delete and restore (spec §4)."""

from __future__ import annotations

from mediavault.domain.ids import is_object_id
from mediavault.domain.models import FileVersion, Version
from mediavault.domain.versioning import ensure_deletable
from mediavault.errors import (
    AssetNotFound,
    FileNotFound,
    InvalidVersionId,
    VersionNotFound,
    VersionPinned,
)
from mediavault.ops import metrics
from mediavault.services.clock import now_ms
from mediavault.services.files import checked_file_id, current
from mediavault.services.garbage import Garbage, collecting_garbage
from mediavault.services.preconditions import ensure_current_version
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.metadata import Transaction


def list_versions(stores: Stores, file_id: str) -> list[FileVersion]:
    """Current version first, then the others by version number, newest first."""
    file_id = checked_file_id(file_id)
    with stores.meta.lookups() as lookups:
        found = lookups.versions(file_id)
    if not found:
        raise AssetNotFound()
    return found


def get_version(stores: Stores, file_id: str, version_id: str) -> FileVersion:
    return get_version_and_current(stores, file_id, version_id)[0]


def get_version_and_current(
    stores: Stores, file_id: str, version_id: str
) -> tuple[FileVersion, str]:
    """The version, and its file's current version id (the ETag), read in one statement."""
    file_id, version_id = checked_file_id(file_id), checked_version_id(version_id)
    with stores.meta.lookups() as lookups:
        found = lookups.version_and_current(file_id, version_id)
    if found is None:
        raise AssetNotFound()
    return found


@retry_on_conflict
def delete_version(
    stores: Stores, file_id: str, version_id: str, expected_version: str | None = None
) -> None:
    """Delete a non-current version for good; its blob goes if nothing else references it."""
    file_id, version_id = checked_file_id(file_id), checked_version_id(version_id)
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        file = tx.get_file(file_id, lock=True)
        version = tx.get_version(file_id, version_id) if file else None
        if file is None or version is None:
            raise AssetNotFound()
        ensure_current_version(tx, file_id, expected_version)
        ensure_deletable(version)
        if tx.is_pinned(version_id):
            raise VersionPinned()
        remove_version(stores, tx, garbage, version, now_ms())
    metrics.VERSIONS_DELETED.inc()


def remove_version(
    stores: Stores, tx: Transaction, garbage: Garbage, version: Version, now: int
) -> None:
    """Delete a non-current version whose file is locked in `tx`: its row, its event, and its
    blob (marked here, removed after the commit) if nothing else references it. The one
    deletion path of a version, for the API and for retention alike."""
    tx.delete_version(version.id)
    stores.events.version_deleted(tx, version.file_id, version.id, now)
    garbage.collect(tx, [version.content.digest])


@retry_on_conflict
def restore_version(
    stores: Stores, file_id: str, version_id: str, expected_version: str | None = None
) -> FileVersion:
    """Make an older version current in place: same id and name, no new version, no new blob.

    Restoring the version that is already current changes nothing, so a retried PUT is safe.
    """
    file_id, version_id = checked_file_id(file_id), checked_version_id(version_id)
    with stores.meta.write() as tx:
        file = tx.get_file(file_id, lock=True)
        if file is None:
            raise FileNotFound()
        ensure_current_version(tx, file_id, expected_version)
        version = tx.get_version(file_id, version_id)
        if version is None:
            raise VersionNotFound()
        if version.is_current:
            return current(tx, file_id)
        now = now_ms()
        previous = tx.get_current_version(file_id)
        tx.demote_current_version(file_id, now)
        tx.promote_version(version_id, now)
        tx.update_file(file_id, updated_at=now)
        restored = current(tx, file_id)
        previous_id = previous.id if previous else None
        stores.events.version_restored(tx, restored, previous_id, now)
    metrics.VERSIONS_RESTORED.inc()  # committed
    return restored


def checked_version_id(version_id: str) -> str:
    if not is_object_id(version_id):
        raise InvalidVersionId()
    return version_id.lower()
