"""File-level use cases: details, update, delete, bulk delete."""

from __future__ import annotations

from mediavault.domain.custom_metadata import checked_values
from mediavault.domain.ids import is_object_id, new_version_token
from mediavault.domain.models import File, FileVersion
from mediavault.domain.versioning import DetailsUpdate, PublishUpdate, Unset, apply_details
from mediavault.errors import FileNotFound, FilesNotFound, InvalidFileId, InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.services.events import changed_fields
from mediavault.services.garbage import collecting_garbage
from mediavault.services.preconditions import ensure_current_version
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.services.trash import discard_files
from mediavault.storage.metadata import Transaction

MAX_BULK_DELETE = 100


def get_details(stores: Stores, file_id: str) -> FileVersion:
    file_id = checked_file_id(file_id)
    with stores.meta.lookups() as lookups:
        found = lookups.current(file_id)
    if found is None:
        raise FileNotFound()
    return found


@retry_on_conflict
def update_details(
    stores: Stores,
    file_id: str,
    update: DetailsUpdate | PublishUpdate,
    expected_version: str | None = None,
) -> FileVersion:
    """Change the current version's snapshot in place; older versions keep theirs."""
    file_id = checked_file_id(file_id)
    with stores.meta.write() as tx:
        file = tx.get_file(file_id, lock=True)
        if file is None:
            raise FileNotFound()
        ensure_current_version(tx, file_id, expected_version)
        now = now_ms()
        if isinstance(update, PublishUpdate):
            _publish(tx, file, update, now)
            changes = {
                "isPublished": update.is_published,
                "includeFileVersions": update.include_file_versions,
            }
        else:
            version = tx.get_current_version(file_id)
            if version is None:
                raise FileNotFound()
            if not isinstance(update.custom_metadata, Unset):
                checked_values(update.custom_metadata, tx.list_fields())
            changed = apply_details(version.metadata, update)
            tx.update_version_metadata(version.id, changed, now)
            changes = changed_fields(version.metadata, changed)
        tx.update_file(file_id, updated_at=now)
        updated = current(tx, file_id)
        stores.events.file_updated(tx, updated, now, changes)
        return updated


@retry_on_conflict
def delete_file(stores: Stores, file_id: str, expected_version: str | None = None) -> None:
    file_id = checked_file_id(file_id)
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        if tx.get_file(file_id, lock=True) is None:
            raise FileNotFound()
        ensure_current_version(tx, file_id, expected_version)
        discard_files(stores, tx, garbage, [file_id], now_ms())


@retry_on_conflict
def bulk_delete(stores: Stores, file_ids: list[str]) -> list[str]:
    """All or nothing: any unknown id deletes nothing (ImageKit's 404 with missingFileIds)."""
    if not file_ids:
        raise InvalidRequest("fileIds is empty.")
    if len(file_ids) > MAX_BULK_DELETE:
        raise InvalidRequest(f"fileIds cannot have more than {MAX_BULK_DELETE} items.")
    wanted = list(dict.fromkeys(file_ids))
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        valid = [i.lower() for i in wanted if is_object_id(i)]
        found = tx.existing_file_ids(valid)
        missing = [i for i in wanted if not is_object_id(i) or i.lower() not in found]
        if missing:
            raise FilesNotFound(missing)
        discard_files(stores, tx, garbage, [i.lower() for i in wanted], now_ms())
    return wanted


def current(tx: Transaction, file_id: str) -> FileVersion:
    file = tx.get_file(file_id)
    version = tx.get_current_version(file_id) if file else None
    if file is None or version is None:
        raise FileNotFound()
    return FileVersion(file, version)


def checked_file_id(file_id: str) -> str:
    if not is_object_id(file_id):
        raise InvalidFileId()
    return file_id.lower()


def _publish(tx: Transaction, file: File, update: PublishUpdate, now: int) -> None:
    targets = tx.list_versions(file.id)
    if not update.include_file_versions:
        targets = [v for v in targets if v.is_current]
    for version in targets:
        if version.metadata.is_published != update.is_published:
            # A new token retires the version URL that was handed out in the other state.
            tx.set_version_published(version.id, update.is_published, new_version_token(), now)
