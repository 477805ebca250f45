"""The trash: deleted files kept with every version and their bytes, restorable, then purged.

With a trash period (MEDIAVAULT_TRASH_DAYS > 0) every deletion of a file (single, bulk, folder)
moves it to the trash: ImageKit's routes answer as if it were gone (404, its path free at
once), its blobs stay referenced. A purge (on request, or by the collector once the period has
passed) deletes it for good through the two-phase blob deletion (mediavault.services.garbage).
"""

from __future__ import annotations

import logging

from mediavault.domain import names
from mediavault.domain.models import FileVersion
from mediavault.errors import FileNotFound, InvalidRequest, PathTaken
from mediavault.services.clock import now_ms
from mediavault.services.garbage import Garbage, collecting_garbage
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.metadata import Transaction
from mediavault.storage.trash_queries import TrashedFile

log = logging.getLogger("mediavault.trash")

MAX_LIMIT = 1000
# Expired files purged per transaction, so that a large expiry never holds the writer long.
PURGE_BATCH = 100


def discard_files(
    stores: Stores, tx: Transaction, garbage: Garbage, file_ids: list[str], now: int
) -> None:
    """Delete files as every ImageKit delete route does: into the trash, or for good."""
    trashed = stores.trash_ms > 0
    if trashed:
        tx.trash_files(file_ids, now)
    else:
        garbage.collect(tx, tx.delete_files(file_ids))
    for file_id in file_ids:
        stores.events.file_deleted(tx, file_id, now, trashed=trashed)


def list_trash(stores: Stores, path: str | None, skip: int, limit: int) -> list[TrashedFile]:
    prefix = names.normalize_folder(path) if path else "/"
    with stores.meta.read() as tx:
        return tx.list_trash(prefix, skip, limit)


@retry_on_conflict
def restore(stores: Stores, file_id: str, file_path: str | None = None) -> FileVersion:
    """Put a trashed file back, with every version and id, at its path or at `file_path`."""
    file_id = _checked(file_id)
    with stores.meta.write() as tx:
        trashed = tx.trashed_file(file_id, lock=True)
        if trashed is None:
            raise FileNotFound()
        old = trashed.item.file
        if file_path is None:
            folder_path, name = old.folder_path, old.name
        else:
            folder_path, name = _split_file_path(file_path)
        if tx.get_file_by_path(folder_path + name, lock=True) is not None:
            raise PathTaken()
        now = now_ms()
        tx.ensure_folders(folder_path, now)
        tx.untrash(file_id, name, folder_path, now)
        file = tx.get_file(file_id)
        version = tx.get_current_version(file_id)
        assert file is not None and version is not None
        restored = FileVersion(file, version)
        stores.events.file_untrashed(tx, restored, old.file_path, now)
        return restored


@retry_on_conflict
def purge(stores: Stores, file_id: str) -> None:
    """Delete a trashed file for good, now; its history goes with it."""
    file_id = _checked(file_id)
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        if tx.trashed_file(file_id, lock=True) is None:
            raise FileNotFound()
        garbage.collect(tx, tx.purge_trashed([file_id]))


def purge_expired(stores: Stores) -> int:
    """Purge what has been in the trash longer than the trash period; returns how many."""
    # Without a trash period, what an earlier one left is purged at once.
    cutoff = now_ms() - stores.trash_ms if stores.trash_ms > 0 else now_ms() + 1
    purged = 0
    while True:
        with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
            expired = tx.expired_trash(cutoff, PURGE_BATCH)
            garbage.collect(tx, tx.purge_trashed(expired))
        purged += len(expired)
        if len(expired) < PURGE_BATCH:
            break
    if purged:
        log.info("purged %d files whose trash period had passed", purged)
    return purged


def _checked(file_id: str) -> str:
    # Imported here: services.files imports this module (its deletions go through the trash).
    from mediavault.services.files import checked_file_id

    return checked_file_id(file_id)


def _split_file_path(raw: str) -> tuple[str, str]:
    text = raw.strip()
    folder, _, name = text.rpartition("/")
    if not name.strip() or "\x00" in text:
        raise InvalidRequest(
            f"Your request contains invalid filePath parameter {raw}.", reason="INVALID_PARAMETER"
        )
    return names.normalize_folder(folder), names.sanitize_file_name(name)
