"""Listing and searching the library, and folders."""

from __future__ import annotations

from typing import Any

from mediavault.domain.models import FileVersion, Folder
from mediavault.domain.names import normalize_folder, sanitize_folder_name
from mediavault.errors import InvalidRequest, NotFound
from mediavault.services.clock import now_ms
from mediavault.services.garbage import collecting_garbage
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.services.trash import discard_files
from mediavault.storage.listing import ListQuery, Reuse

MAX_FOLDER_DELETE_ITEMS = 100_000


def list_assets(stores: Stores, query: ListQuery) -> list[FileVersion | Folder]:
    with stores.meta.read() as tx:
        return tx.list_assets(query)


def list_assets_reusing(stores: Stores, query: ListQuery, reuse: Reuse | None) -> list[Any]:
    """list_assets for a caller that keeps what it made of earlier results: folders, Listed
    records, and in place of each version `reuse` kept an answer for, that answer; only the
    other records are read (storage.listing.ListingQueries.list_assets_reusing)."""
    with stores.meta.read() as tx:
        return tx.list_assets_reusing(query, reuse)


@retry_on_conflict
def create_folder(stores: Stores, folder_name: str, parent_folder_path: str) -> Folder:
    """Create the folder and any missing parents; creating an existing folder is a no-op."""
    path = normalize_folder(parent_folder_path) + sanitize_folder_name(folder_name) + "/"
    with stores.meta.write() as tx:
        tx.ensure_folders(path, now_ms())
        folder = tx.get_folder(path)
        assert folder is not None
        return folder


@retry_on_conflict
def delete_folder(stores: Stores, folder_path: str) -> list[str]:
    """Delete the folder, its sub-folders and every file in them with all versions.

    Returns the ids of the deleted files.
    """
    path = normalize_folder(folder_path)
    if path == "/":
        raise InvalidRequest(
            "Your request contains invalid folderPath parameter. "
            "The root folder cannot be deleted.",
            reason="INVALID_FOLDER_PATH",
        )
    with collecting_garbage(stores) as garbage, stores.meta.write() as tx:
        if tx.get_folder(path) is None:
            raise NotFound(
                f"No folder found with folderPath `{folder_path}`.", reason="FOLDER_NOT_FOUND"
            )
        if tx.count_folder_contents(path) > MAX_FOLDER_DELETE_ITEMS:
            raise InvalidRequest(
                "Total nested assets (files, folders and file versions) are more than allowed "
                f"limit of {MAX_FOLDER_DELETE_ITEMS} items.",
                reason="TOO_MANY_OBJECTS",
            )
        file_ids = tx.file_ids_under(path)
        discard_files(stores, tx, garbage, file_ids, now_ms())
        tx.delete_folders_under(path)
        return file_ids


def version_counts(stores: Stores, file_ids: list[str]) -> dict[str, int]:
    """How many versions each file has (the web console's grid), in one read transaction."""
    with stores.meta.read() as tx:
        return tx.count_versions_of(file_ids)
