"""Storage accounting: files, versions and bytes under a folder, from the kept counters."""

from __future__ import annotations

from dataclasses import dataclass

from mediavault.domain.names import normalize_folder
from mediavault.services.stores import Stores


@dataclass(frozen=True)
class StorageUsage:
    files: int
    versions: int
    current_bytes: int
    version_bytes: int  # every version of the live files, current ones included
    trash_bytes: int  # every version of the files in the trash
    physical_bytes: int  # the distinct blobs behind all of these, each counted once


def storage_usage(stores: Stores, path: str | None) -> StorageUsage:
    """Sums of one row per folder under `path`; physical bytes: see usage_queries."""
    prefix = normalize_folder(path) if path else "/"
    with stores.meta.read() as tx:
        usage = tx.usage_under(prefix)
        physical = tx.physical_bytes(prefix)
    return StorageUsage(
        usage.files,
        usage.versions,
        usage.current_bytes,
        usage.version_bytes,
        usage.trash_bytes,
        physical,
    )
