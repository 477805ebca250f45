"""Recording webhook events in the outbox, inside the transaction of the change itself.

An event exists if and only if its change committed; a background sender delivers it later,
so a slow or dead receiver never slows or fails an API call.

Each change also appends to its file's history (file_events, GET /v1/files/{fileId}/history),
always, webhooks configured or not: the webhook says what ImageKit would (a restore, a move or
a rename is `file.updated`), the history says what happened.
"""

from __future__ import annotations

from typing import Any

from mediavault.domain import webhooks
from mediavault.domain.models import File, FileVersion, VersionMetadata
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
        details = {"filePath": item.file.file_path, "size": item.version.content.size}
        _history(tx, "file.created", item, now, details)

    def version_created(self, tx: Transaction, item: FileVersion, now: int) -> None:
        self._record(tx, webhooks.VERSION_CREATED, item.file.id, lambda: self._file(item), now)
        details = {"versionName": item.version.name, "size": item.version.content.size}
        _history(tx, "file-version.created", item, now, details)

    def file_updated(
        self, tx: Transaction, item: FileVersion, now: int, changes: dict[str, Any] | None = None
    ) -> None:
        """`changes`: the changed fields and their new values (the history's details)."""
        self._record(tx, webhooks.FILE_UPDATED, item.file.id, lambda: self._file(item), now)
        _history(tx, "file.updated", item, now, changes or {})

    def version_restored(
        self, tx: Transaction, item: FileVersion, previous_version_id: str | None, now: int
    ) -> None:
        self._record(tx, webhooks.FILE_UPDATED, item.file.id, lambda: self._file(item), now)
        details = {"versionName": item.version.name, "previousVersionId": previous_version_id}
        _history(tx, "file-version.restored", item, now, details)

    def file_moved(self, tx: Transaction, item: FileVersion, from_path: str, now: int) -> None:
        self._record(tx, webhooks.FILE_UPDATED, item.file.id, lambda: self._file(item), now)
        details = {"from": from_path, "to": item.file.file_path}
        _history(tx, "file.moved", item, now, details)

    def file_renamed(self, tx: Transaction, item: FileVersion, from_path: str, now: int) -> None:
        self._record(tx, webhooks.FILE_UPDATED, item.file.id, lambda: self._file(item), now)
        details = {"from": from_path, "to": item.file.file_path}
        _history(tx, "file.renamed", item, now, details)

    def file_copied(
        self,
        tx: Transaction,
        item: FileVersion,
        source: File,
        now: int,
        *,
        versions: int,
        appended: bool,
    ) -> None:
        """A copy made a new file, or (`appended`, onto a same-named file) versions of one."""
        if appended:
            self.version_created_webhook(tx, item, now)
        else:
            self._record(tx, webhooks.FILE_CREATED, item.file.id, lambda: self._file(item), now)
        details = {
            "sourceFileId": source.id,
            "sourceFilePath": source.file_path,
            "versions": versions,
            "appended": appended,
        }
        _history(tx, "file.copied", item, now, details)

    def file_merged(
        self, tx: Transaction, item: FileVersion, source: File, versions: int, now: int
    ) -> None:
        """A move onto a same-named file: the source's versions joined it, the source is gone."""
        self.version_created_webhook(tx, item, now)
        self._record(tx, webhooks.FILE_DELETED, source.id, lambda: {"fileId": source.id}, now)
        details = {
            "from": source.file_path,
            "to": item.file.file_path,
            "fromFileId": source.id,
            "versions": versions,
            "appended": True,
        }
        _history(tx, "file.moved", item, now, details)
        tx.add_file_event(source.id, "file.deleted", now, None, {"movedInto": item.file.id})

    def version_created_webhook(self, tx: Transaction, item: FileVersion, now: int) -> None:
        self._record(tx, webhooks.VERSION_CREATED, item.file.id, lambda: self._file(item), now)

    def file_deleted(
        self, tx: Transaction, file_id: str, now: int, *, trashed: bool = False
    ) -> None:
        """Deleted for good, or (`trashed`) moved to the trash: ImageKit's file.deleted both."""
        self._record(tx, webhooks.FILE_DELETED, file_id, lambda: {"fileId": file_id}, now)
        tx.add_file_event(file_id, "file.trashed" if trashed else "file.deleted", now)

    def file_untrashed(self, tx: Transaction, item: FileVersion, from_path: str, now: int) -> None:
        """Back from the trash: for webhooks the file is created again."""
        self._record(tx, webhooks.FILE_CREATED, item.file.id, lambda: self._file(item), now)
        details = {"filePath": item.file.file_path, "from": from_path}
        _history(tx, "file.untrashed", item, now, details)

    def version_deleted(self, tx: Transaction, file_id: str, version_id: str, now: int) -> None:
        data = {"fileId": file_id, "versionId": version_id}
        self._record(tx, webhooks.VERSION_DELETED, file_id, lambda: data, now)
        tx.add_file_event(file_id, "file-version.deleted", now, version_id)

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


def _history(
    tx: Transaction, event_type: str, item: FileVersion, now: int, details: dict[str, Any]
) -> None:
    tx.add_file_event(item.file.id, event_type, now, item.version.id, details)


_FIELD_NAMES = {
    "tags": "tags",
    "ai_tags": "AITags",
    "custom_metadata": "customMetadata",
    "custom_coordinates": "customCoordinates",
    "description": "description",
    "is_private_file": "isPrivateFile",
    "is_published": "isPublished",
}


def changed_fields(before: VersionMetadata, after: VersionMetadata) -> dict[str, Any]:
    """The fields of `after` that differ from `before`, as the File object names them."""
    return {
        wire: getattr(after, name)
        for name, wire in _FIELD_NAMES.items()
        if getattr(after, name) != getattr(before, name)
    }
