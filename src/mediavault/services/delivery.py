"""Delivery: which version a URL path names, and its thumbnail."""

from __future__ import annotations

from pathlib import Path

from mediavault.domain.models import FileVersion
from mediavault.errors import NotFound
from mediavault.services.stores import Stores


def resolve(stores: Stores, file_path: str, token: str | None) -> FileVersion:
    """The current version at its plain path; any version by its `ik-obj-version` token.

    A token keeps naming its version after the version becomes current (the bytes are the
    same), and stops working when the version is deleted or its publish state changes.
    Unpublished versions are not delivered.
    """
    with stores.meta.read() as tx:
        file = tx.get_file_by_path(file_path)
        if file is None:
            raise NotFound("The requested file does not exist.")
        if token is None:
            version = tx.get_current_version(file.id)
        else:
            version = tx.get_version_by_token(file.id, token)
        if version is None or not version.metadata.is_published:
            raise NotFound("The requested file version does not exist.")
    return FileVersion(file, version)


def thumbnail(stores: Stores, item: FileVersion) -> tuple[Path, str]:
    """Path and content type of the version's thumbnail (a placeholder for non-images)."""
    content = item.version.content
    return stores.thumbnails.thumbnail(
        content.digest, lambda: stores.blobs.open(content.digest), content.file_type == "image"
    )
