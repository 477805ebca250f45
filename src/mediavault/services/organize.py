"""Copy, move and rename (spec §6.6): versions travel with their file, blobs are shared."""

from __future__ import annotations

from msgspec.structs import replace

from mediavault.domain import names
from mediavault.domain.ids import new_object_id, new_version_token
from mediavault.domain.models import File, FileVersion, Version
from mediavault.domain.versioning import ensure_room_for_version
from mediavault.errors import Conflict, InvalidRequest, NotFound
from mediavault.services.clock import now_ms
from mediavault.services.files import current
from mediavault.services.preconditions import ensure_current_version
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.metadata import Transaction


@retry_on_conflict
def copy_file(
    stores: Stores,
    source_file_path: str,
    destination_path: str,
    include_versions: bool,
    expected_version: str | None = None,
) -> File:
    """Copy the current version (or all versions) into another folder; no blob is written.

    Onto a same-named file the copies are appended to its history, the source's current
    version last, so that it becomes the destination's current version.
    """
    with stores.meta.write() as tx:
        source, destination_folder = _source_and_destination(tx, source_file_path, destination_path)
        ensure_current_version(tx, source.id, expected_version)
        return copy_into(tx, stores, source, destination_folder, include_versions, now_ms()).file


def copy_into(
    tx: Transaction,
    stores: Stores,
    source: File,
    destination_folder: str,
    include_versions: bool,
    now: int,
) -> FileVersion:
    """copy_file's work inside the caller's transaction (folder bulk jobs call it per file).

    The version limit is checked before anything is written, so a refusal leaves the
    transaction as it was."""
    history = _chronological(tx.list_versions(source.id))
    if not include_versions:
        history = history[-1:]
    target = tx.get_file_by_path(destination_folder + source.name, lock=True)
    appending = target is not None
    if target is None:
        tx.ensure_folders(destination_folder, now)
        target = File(new_object_id(), source.name, destination_folder, 0, now, now)
        tx.insert_file(target)
    else:
        _make_room(tx, stores, target, len(history), now)
    for offset, version in enumerate(history, start=1):
        number = target.last_version_number + offset
        # Version 1's id is the file id; later versions get their own.
        version_id = target.id if number == 1 else new_object_id()
        tx.claim_blob(version.content.digest, version.content.size, now)
        tx.insert_version(
            replace(
                version,
                id=version_id,
                file_id=target.id,
                number=number,
                token=new_version_token(),
                is_current=offset == len(history),
                updated_at=now,
            )
        )
    last = target.last_version_number + len(history)
    tx.update_file(target.id, last_version_number=last, updated_at=now)
    copied = current(tx, target.id)
    stores.events.file_copied(tx, copied, source, now, versions=len(history), appended=appending)
    return copied


@retry_on_conflict
def move_file(
    stores: Stores,
    source_file_path: str,
    destination_path: str,
    expected_version: str | None = None,
) -> File:
    """Move a file with all its versions. Onto a same-named file, its history is appended."""
    with stores.meta.write() as tx:
        source, destination_folder = _source_and_destination(tx, source_file_path, destination_path)
        ensure_current_version(tx, source.id, expected_version)
        return move_into(tx, stores, source, destination_folder, now_ms()).file


def move_into(
    tx: Transaction, stores: Stores, source: File, destination_folder: str, now: int
) -> FileVersion:
    """move_file's work inside the caller's transaction (folder bulk jobs call it per file).

    The version limit is checked before anything is written, so a refusal leaves the
    transaction as it was."""
    target = tx.get_file_by_path(destination_folder + source.name, lock=True)
    if target is None:
        tx.ensure_folders(destination_folder, now)
        tx.move_file(source.id, source.name, destination_folder, now)
        moved = current(tx, source.id)
        stores.events.file_moved(tx, moved, source.file_path, now)
        return moved
    history = _chronological(tx.list_versions(source.id))
    _make_room(tx, stores, target, len(history), now)
    for offset, version in enumerate(history, start=1):
        number = target.last_version_number + offset
        tx.reassign_version(version.id, target.id, number, offset == len(history), now)
    last = target.last_version_number + len(history)
    tx.update_file(target.id, last_version_number=last, updated_at=now)
    tx.delete_files([source.id])
    appended = current(tx, target.id)
    stores.events.file_merged(tx, appended, source, len(history), now)
    return appended


@retry_on_conflict
def rename_file(
    stores: Stores, file_path: str, new_file_name: str, expected_version: str | None = None
) -> File:
    """Rename a file and so every version; the old URLs stop working."""
    with stores.meta.write() as tx:
        file = tx.get_file_by_path(_as_file_path(file_path), lock=True)
        if file is None:
            raise NotFound(
                f"No file found in media library at filePath {file_path}", reason="FILE_MISSING"
            )
        ensure_current_version(tx, file.id, expected_version)
        name = names.sanitize_file_name(new_file_name)
        if name == file.name:
            raise InvalidRequest(
                "newFileName cannot be the same as its existing name.",
                reason="SAME_OLD_AND_NEW_NAME",
            )
        if tx.get_file_by_path(file.folder_path + name) is not None:
            raise Conflict(
                f"File with name {name} already exists at the same location.",
                reason="FILE_ALREADY_EXISTS",
            )
        now = now_ms()
        tx.move_file(file.id, name, file.folder_path, now)
        renamed = current(tx, file.id)
        stores.events.file_renamed(tx, renamed, file.file_path, now)
        return renamed.file


def _source_and_destination(
    tx: Transaction, source_file_path: str, destination_path: str
) -> tuple[File, str]:
    source = tx.get_file_by_path(_as_file_path(source_file_path), lock=True)
    if source is None:
        raise NotFound(
            f"No file found with filePath `{source_file_path}`.", reason="SOURCE_FILE_MISSING"
        )
    destination_folder = names.normalize_folder(destination_path)
    if destination_folder == source.folder_path:
        raise InvalidRequest(
            "Your request contains invalid parameters. "
            "The source file is already in the destination folder.",
            reason="SAME_SOURCE_AND_DESTINATION",
        )
    return source, destination_folder


def _make_room(tx: Transaction, stores: Stores, target: File, incoming: int, now: int) -> None:
    """Check the version limit for the appended history, then demote the target's current."""
    ensure_room_for_version(
        tx.count_versions(target.id),
        stores.max_versions_per_file,
        incoming,
        reason="VERSION_LIMIT_EXCEEDED",
    )
    tx.demote_current_version(target.id, now)


def _chronological(history: list[Version]) -> list[Version]:
    """Older versions by number, the current version last: it stays current after the append."""
    return sorted(history, key=lambda v: (v.is_current, v.number))


def _as_file_path(raw: str) -> str:
    text = raw.strip()
    folder, _, name = text.rpartition("/")
    if not name:
        raise InvalidRequest(
            f"Your request contains invalid file path {raw}.", reason="INVALID_PARAMETER"
        )
    return names.normalize_folder(folder) + name
