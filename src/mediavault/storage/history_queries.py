"""SQL for per-file history: events appended in the transaction of the change they describe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.domain.ids import new_object_id
from mediavault.storage.prepared import Statements
from mediavault.storage.tables import file_events


@dataclass(frozen=True)
class FileEvent:
    seq: int  # the order of events, and the page cursor
    id: str
    file_id: str
    type: str
    at: int  # ms since the epoch
    version_id: str | None
    details: dict[str, Any]


class HistoryQueries:
    _db: sa.Connection
    _sql: Statements

    def add_file_event(
        self,
        file_id: str,
        event_type: str,
        at: int,
        version_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._sql.execute(
            _INSERT_EVENT,
            {
                "id": new_object_id(),
                "file_id": file_id,
                "type": event_type,
                "at": at,
                "version_id": version_id,
                "details": details or {},
            },
        )

    def file_events(self, file_id: str, limit: int, before_seq: int | None) -> list[FileEvent]:
        """Newest first; `before_seq` continues a page (events older than that one)."""
        query = sa.select(file_events).where(file_events.c.file_id == file_id)
        if before_seq is not None:
            query = query.where(file_events.c.seq < before_seq)
        query = query.order_by(file_events.c.seq.desc()).limit(limit)
        return [
            FileEvent(r.seq, r.id, r.file_id, r.type, r.at, r.version_id, r.details or {})
            for r in self._db.execute(query)
        ]

    def has_file_events(self, file_id: str) -> bool:
        query = sa.select(file_events.c.seq).where(file_events.c.file_id == file_id).limit(1)
        return self._db.execute(query).first() is not None


_INSERT_EVENT = sa.insert(file_events)
