"""A file's history: what happened to it, newest first, one page at a time (issue 13)."""

from __future__ import annotations

from dataclasses import dataclass

from mediavault.errors import FileNotFound
from mediavault.services.files import checked_file_id
from mediavault.services.stores import Stores
from mediavault.storage.history_queries import FileEvent


@dataclass(frozen=True)
class HistoryPage:
    events: list[FileEvent]
    next: int | None  # the cursor of the next page (older events); None on the last


def file_history(stores: Stores, file_id: str, limit: int, after: int | None) -> HistoryPage:
    """Readable while the file is live or in the trash, and while its history is kept."""
    file_id = checked_file_id(file_id)
    with stores.meta.read() as tx:
        events = tx.file_events(file_id, limit + 1, after)
        if not events and not (
            tx.get_file(file_id) or tx.is_trashed(file_id) or tx.has_file_events(file_id)
        ):
            raise FileNotFound()
    if len(events) > limit:
        return HistoryPage(events[:limit], events[limit - 1].seq)
    return HistoryPage(events, None)
