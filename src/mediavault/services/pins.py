"""Pins: a pinned version is never removed by retention, nor deleted until unpinned."""

from __future__ import annotations

from mediavault.errors import AssetNotFound
from mediavault.services.clock import now_ms
from mediavault.services.files import checked_file_id
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.services.versions import checked_version_id


@retry_on_conflict
def set_pinned(stores: Stores, file_id: str, version_id: str, pinned: bool) -> None:
    """Pin or unpin; doing it twice changes nothing. 404 as the version routes answer it."""
    file_id, version_id = checked_file_id(file_id), checked_version_id(version_id)
    with stores.meta.write() as tx:
        file = tx.get_file(file_id, lock=True)
        version = tx.get_version(file_id, version_id) if file else None
        if file is None or version is None:
            raise AssetNotFound()
        if tx.is_pinned(version_id) == pinned:
            return
        now = now_ms()
        if pinned:
            tx.pin_version(file_id, version_id, now)
        else:
            tx.unpin_version(version_id)
        tx.add_file_event(
            file_id, "version.pinned" if pinned else "version.unpinned", now, version_id
        )


def pinned_version_ids(stores: Stores, file_id: str) -> set[str]:
    with stores.meta.read() as tx:
        return tx.pinned_version_ids(checked_file_id(file_id))
