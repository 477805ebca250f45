"""Upload: a new file, or a new version of the file already at the target path (spec §5.5)."""

from __future__ import annotations

from dataclasses import dataclass

from msgspec.structs import replace

from mediavault.domain import names
from mediavault.domain.custom_metadata import checked_values, with_required_defaults
from mediavault.domain.ids import new_object_id, new_version_token
from mediavault.domain.models import ContentInfo, File, FileVersion, Version
from mediavault.domain.versioning import (
    UploadOptions,
    ensure_may_overwrite,
    ensure_room_for_version,
    metadata_for_upload,
    next_version_number,
)
from mediavault.services.clock import now_ms
from mediavault.services.garbage import finish_deletions
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.blobs import StagedBlob
from mediavault.storage.metadata import Transaction


@dataclass(frozen=True)
class UploadTarget:
    file_name: str
    folder: str | None = None


def upload(
    stores: Stores,
    staged: StagedBlob,
    content: ContentInfo,
    target: UploadTarget,
    options: UploadOptions,
) -> FileVersion:
    """Store the staged bytes as a new file or as the next version of an existing one.

    The staged blob is published inside the transaction, after its row is claimed, so a
    concurrent deletion of the same content cannot remove the bytes this version points at.
    """
    name = names.sanitize_file_name(target.file_name)
    folder_path = names.normalize_folder(target.folder)
    try:
        with stores.meta.write() as tx:
            tx.reserve_blob(content.digest, content.size, now_ms())
        return _store(stores, staged, content, name, folder_path, options)
    except BaseException:
        # A refused or failed upload leaves nothing: not its reservation, nor bytes it may
        # have published before its transaction failed (both only if nothing uses them).
        finish_deletions(stores, [content.digest])
        raise
    finally:
        stores.blobs.discard(staged)


@retry_on_conflict
def _store(
    stores: Stores,
    staged: StagedBlob,
    content: ContentInfo,
    name: str,
    folder_path: str,
    options: UploadOptions,
) -> FileVersion:
    with stores.meta.write() as tx:
        now = now_ms()
        if options.use_unique_file_name:
            name = _free_unique_name(tx, folder_path, name)
            existing = None
        else:
            existing = tx.get_file_by_path(folder_path + name, lock=True)
        fields = tx.list_fields()
        if options.custom_metadata is not None:
            checked_values(options.custom_metadata, fields)
        if existing is None:
            tx.ensure_folders(folder_path, now)
            result = _create_file(tx, name, folder_path, content, options, now)
        else:
            result = _add_version(tx, stores, existing, content, options, now)
        metadata = result.version.metadata
        custom = with_required_defaults(metadata.custom_metadata or {}, fields)
        version = replace(result.version, metadata=replace(metadata, custom_metadata=custom))
        replace_bytes = tx.claim_blob(content.digest, content.size, now)
        stores.blobs.publish(staged, overwrite=replace_bytes)
        tx.insert_version(version)
        stored = FileVersion(result.file, version)
        if existing is None:
            stores.events.file_created(tx, stored, now)
        else:
            stores.events.version_created(tx, stored, now)
        return stored


def _create_file(
    tx: Transaction,
    name: str,
    folder_path: str,
    content: ContentInfo,
    options: UploadOptions,
    now: int,
) -> FileVersion:
    file_id = new_object_id()
    file = File(file_id, name, folder_path, last_version_number=1, created_at=now, updated_at=now)
    tx.insert_file(file)
    # Version 1's id is the file id, as in every ImageKit example.
    version = _new_version(file_id, file_id, 1, content, options, None, now)
    return FileVersion(file, version)


def _add_version(
    tx: Transaction,
    stores: Stores,
    file: File,
    content: ContentInfo,
    options: UploadOptions,
    now: int,
) -> FileVersion:
    ensure_may_overwrite(options)
    ensure_room_for_version(tx.count_versions(file.id), stores.max_versions_per_file)
    previous = tx.get_current_version(file.id)
    number = next_version_number(file)
    version = _new_version(new_object_id(), file.id, number, content, options, previous, now)
    tx.demote_current_version(file.id, now)
    tx.update_file(file.id, last_version_number=number, updated_at=now)
    updated = File(file.id, file.name, file.folder_path, number, file.created_at, now)
    return FileVersion(updated, version)


def _new_version(
    version_id: str,
    file_id: str,
    number: int,
    content: ContentInfo,
    options: UploadOptions,
    previous: Version | None,
    now: int,
) -> Version:
    return Version(
        id=version_id,
        file_id=file_id,
        number=number,
        content=content,
        metadata=metadata_for_upload(options, previous),
        token=new_version_token(),
        is_current=True,
        created_at=now,
        updated_at=now,
    )


def _free_unique_name(tx: Transaction, folder_path: str, name: str) -> str:
    while True:
        candidate = names.unique_file_name(name)
        if tx.get_file_by_path(folder_path + candidate) is None:
            return candidate
