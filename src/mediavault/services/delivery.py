"""Delivery: which version a URL path names, whether its bytes are there, and its thumbnail."""

from __future__ import annotations

from pathlib import Path

from mediavault.domain.models import FileVersion
from mediavault.errors import BlobMissing, NotFound
from mediavault.services.stores import Stores


def resolve(stores: Stores, file_path: str, token: str | None) -> FileVersion:
    """The current version at its plain path; any version by its `ik-obj-version` token.

    A token keeps naming its version after the version becomes current (the bytes are the
    same), and stops working when the version is deleted or its publish state changes.
    Unpublished versions are not delivered.
    """
    with stores.meta.lookups() as lookups:
        found = lookups.at_path(file_path, token)  # one statement, no transaction
    if found is None:
        raise NotFound("The requested file does not exist.")
    if not isinstance(found, FileVersion) or not found.version.metadata.is_published:
        raise NotFound("The requested file version does not exist.")
    return found


def ensure_stored(stores: Stores, item: FileVersion) -> None:
    """Raise BlobMissing if the version's bytes are gone, StorageUnavailable if the store is
    unreachable: a server fault (500/503), never the client's."""
    if stores.blobs.size(item.version.content.digest) is None:
        raise missing_blob(item)


def missing_blob(item: FileVersion) -> BlobMissing:
    # The detail goes to the log only; the client gets BlobMissing's fixed message.
    version = item.version
    return BlobMissing(
        f"the blob {version.content.digest} of version {version.id} "
        f"of file {item.file.id} is missing"
    )


def thumbnail(stores: Stores, item: FileVersion) -> tuple[Path, str]:
    """Path and content type of the version's thumbnail (a placeholder for non-images)."""
    content = item.version.content
    try:
        return stores.thumbnails.thumbnail(
            content.digest, lambda: stores.blobs.open(content.digest), content.file_type == "image"
        )
    except BlobMissing:
        raise missing_blob(item) from None  # the same log detail as for the bytes themselves
