"""Upload: a new file, or a new version of the file already at the target path (spec §5.5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from msgspec.structs import replace

from mediavault.domain import names
from mediavault.domain.custom_metadata import checked_values, with_required_defaults
from mediavault.domain.ids import new_lease_id, new_object_id, new_version_token
from mediavault.domain.models import ContentInfo, File, FileVersion, Version
from mediavault.domain.preconditions import ensure_absent, ensure_expected_version
from mediavault.domain.versioning import (
    UploadOptions,
    ensure_may_overwrite,
    ensure_room_for_version,
    metadata_for_upload,
    next_version_number,
)
from mediavault.errors import StorageUnavailable
from mediavault.services.clock import now_ms
from mediavault.services.garbage import finish_deletions
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.blob_queries import BlobLease
from mediavault.storage.blobs import StagedBlob
from mediavault.storage.metadata import Transaction

log = logging.getLogger("mediavault.uploads")


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
    *,
    expected_version: str | None = None,
    create_only: bool = False,
) -> FileVersion:
    """Store the staged bytes as a new file or as the next version of an existing one.

    `expected_version` (If-Match) and `create_only` (If-None-Match: *) are checked against the
    file at the path in the transaction that adds the version, after locking it.

    Three steps, so that no transaction waits for bytes to move: a short transaction leases
    the blob (no deletion may remove it from then on), the bytes are published outside any
    transaction (content-addressed, so publishing twice is harmless), and a short
    transaction records the version and returns the lease.
    """
    name = names.sanitize_file_name(target.file_name)
    folder_path = names.normalize_folder(target.folder)
    lease = BlobLease(
        new_lease_id(), content.digest, stores.liveness.owner, now_ms() + stores.staging_grace_ms
    )
    try:
        with stores.meta.write() as tx:
            rewrite = tx.lease_blob(lease, content.size, now_ms())
        stores.blobs.publish(staged, overwrite=rewrite)
        conditions = (expected_version, create_only)
        return _store(stores, content, name, folder_path, options, lease.id, conditions)
    except BaseException:
        # A refused or failed upload leaves nothing: not its lease, nor bytes it published
        # (if nothing else uses them). Should this fail too, the collector finds both.
        _give_back(stores, lease)
        raise
    finally:
        _discard(stores, staged)


def _discard(stores: Stores, staged: StagedBlob) -> None:
    """Remove the staging object (gone already when published). An error of its fsync, still
    under way if the upload failed before publishing, must not hide the upload's own."""
    try:
        stores.blobs.discard(staged)
    except Exception:
        log.warning("could not sync or remove the staging object of an upload", exc_info=True)


def _give_back(stores: Stores, lease: BlobLease) -> None:
    try:
        with stores.meta.write() as tx:
            tx.release_lease(lease.id)
        finish_deletions(stores, [lease.digest])
    except Exception:
        log.warning("could not release the blob lease of a failed upload", exc_info=True)


@retry_on_conflict
def _store(
    stores: Stores,
    content: ContentInfo,
    name: str,
    folder_path: str,
    options: UploadOptions,
    lease_id: str,
    conditions: tuple[str | None, bool] = (None, False),
) -> FileVersion:
    """The version's transaction: only metadata, so a conflict may safely run it again."""
    with stores.meta.write() as tx:
        now = now_ms()
        if options.use_unique_file_name:
            name = _free_unique_name(tx, folder_path, name)
            existing = None
        else:
            existing = tx.get_file_by_path(folder_path + name, lock=True)
        if conditions != (None, False):
            # A unique name is a new path: If-Match fails there, If-None-Match: * holds.
            _check_conditions(tx, existing, *conditions)
        fields = tx.live_fields()
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
        if not tx.claim_blob(content.digest, content.size, now, lease_id):
            _ensure_bytes_survived(stores, content)
        tx.insert_version(version)
        stored = FileVersion(result.file, version)
        if existing is None:
            stores.events.file_created(tx, stored, now)
        else:
            stores.events.version_created(tx, stored, now)
        return stored


def _check_conditions(
    tx: Transaction, existing: File | None, expected_version: str | None, create_only: bool
) -> None:
    previous = tx.get_current_version(existing.id) if existing else None
    current_id = previous.id if previous else None
    ensure_expected_version(expected_version, current_id)
    ensure_absent(create_only, current_id)


def _ensure_bytes_survived(stores: Stores, content: ContentInfo) -> None:
    """The lease was collected (the upload outlived the grace period): are the bytes there?"""
    if stores.blobs.size(content.digest) != content.size:
        raise StorageUnavailable(
            "The upload took longer than the staging grace period allows; please retry."
        )


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
