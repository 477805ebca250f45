"""Recording webhook events in the outbox, inside the transaction of the change itself.

An event exists if and only if its change committed; a background sender delivers it later,
so a slow or dead receiver never slows or fails an API call.
"""

from __future__ import annotations

from typing import Any

from mediavault.domain import webhooks
from mediavault.domain.models import FileVersion
from mediavault.serializers import file_object
from mediavault.storage.metadata import Transaction
from mediavault.urls import UrlBuilder


class EventRecorder:
    def __init__(self, targets: list[str], urls: UrlBuilder) -> None:
        self._targets = targets
        self._urls = urls

    @property
    def enabled(self) -> bool:
        return bool(self._targets)

    def file_created(self, tx: Transaction, item: FileVersion, now: int) -> None:
        self._record(tx, webhooks.FILE_CREATED, item.file.id, lambda: self._file(item), now)

    def version_created(self, tx: Transaction, item: FileVersion, now: int) -> None:
        self._record(tx, webhooks.VERSION_CREATED, item.file.id, lambda: self._file(item), now)

    def file_updated(self, tx: Transaction, item: FileVersion, now: int) -> None:
        self._record(tx, webhooks.FILE_UPDATED, item.file.id, lambda: self._file(item), now)

    def file_deleted(self, tx: Transaction, file_id: str, now: int) -> None:
        self._record(tx, webhooks.FILE_DELETED, file_id, lambda: {"fileId": file_id}, now)

    def version_deleted(self, tx: Transaction, file_id: str, version_id: str, now: int) -> None:
        data = {"fileId": file_id, "versionId": version_id}
        self._record(tx, webhooks.VERSION_DELETED, file_id, lambda: data, now)

    def _file(self, item: FileVersion) -> dict[str, Any]:
        return file_object(item, self._urls)

    def _record(self, tx: Transaction, event_type: str, file_id: str, data: Any, now: int) -> None:
        if not self._targets:
            return
        event_id, body = webhooks.event_body(event_type, data(), now)
        tx.add_events(
            [
                {
                    "event_id": event_id,
                    "event_type": event_type,
                    "target_url": target,
                    "body": body,
                    "file_id": file_id,
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for target in self._targets
            ]
        )
