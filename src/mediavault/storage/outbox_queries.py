"""SQL for the webhook outbox: events written with their change, claimed and sent later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.storage.tables import webhook_outbox as outbox


@dataclass(frozen=True)
class PendingEvent:
    id: int
    event_id: str
    target_url: str
    body: str
    attempts: int
    created_at: int


class OutboxQueries:
    _db: sa.Connection

    def add_events(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._db.execute(sa.insert(outbox), rows)

    def claim_due_events(self, now: int, lease_ms: int, limit: int) -> list[PendingEvent]:
        """Take the oldest undelivered event of each (target, file) whose time has come.

        Only the head of each per-file queue is eligible, so events of one file reach a
        receiver in order. Claiming pushes `next_attempt_at` past a lease, so other workers
        leave the event alone while it is being sent.
        """
        earlier = outbox.alias("earlier")
        pending = sa.and_(outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None))
        blocked = sa.exists().where(
            earlier.c.target_url == outbox.c.target_url,
            earlier.c.file_id == outbox.c.file_id,
            earlier.c.id < outbox.c.id,
            earlier.c.delivered_at.is_(None),
            earlier.c.failed_at.is_(None),
        )
        query = (
            sa.select(outbox)
            .where(pending, outbox.c.next_attempt_at <= now, sa.not_(blocked))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self._db.execute(query).all()
        if rows:
            self._db.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(next_attempt_at=now + lease_ms)
            )
        return [
            PendingEvent(r.id, r.event_id, r.target_url, r.body, r.attempts, r.created_at)
            for r in rows
        ]

    def mark_delivered(self, row_id: int, now: int) -> None:
        self._db.execute(
            sa.update(outbox).where(outbox.c.id == row_id).values(delivered_at=now, last_error=None)
        )

    def mark_attempt_failed(
        self, row_id: int, attempts: int, next_attempt_at: int | None, error: str, now: int
    ) -> None:
        """Schedule a retry, or give the event up when `next_attempt_at` is None."""
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:1000]}
        if next_attempt_at is None:
            values["failed_at"] = now
        else:
            values["next_attempt_at"] = next_attempt_at
        self._db.execute(sa.update(outbox).where(outbox.c.id == row_id).values(**values))

    def undelivered_event_count(self) -> int:
        query = sa.select(sa.func.count()).where(
            outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None)
        )
        return int(self._db.scalar(query) or 0)
