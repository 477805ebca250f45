"""SQL for cache purges (services.purge) and the bandwidth counted per day (services.bandwidth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mediavault.storage.dialects import escape_like
from mediavault.storage.tables import bandwidth_days, files, purge_requests, versions


@dataclass(frozen=True)
class PurgeRequest:
    id: str
    url: str
    forward_to: str | None
    attempts: int
    created_at: int
    completed_at: int | None
    waiting_for_job: str | None


class PurgeQueries:
    _db: sa.Connection

    def insert_purge_request(
        self, request_id: str, url: str, forward_to: str | None, now: int,
        waiting_for_job: str | None = None,
    ) -> None:  # fmt: skip
        done = forward_to is None and waiting_for_job is None
        self._db.execute(
            sa.insert(purge_requests).values(
                id=request_id,
                url=url,
                waiting_for_job=waiting_for_job,
                forward_to=forward_to,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                created_at=now,
                completed_at=now if done else None,
            )
        )

    def get_purge_request(self, request_id: str) -> PurgeRequest | None:
        row = self._db.execute(
            sa.select(purge_requests).where(purge_requests.c.id == request_id)
        ).first()
        return _purge_from(row._mapping) if row else None

    def release_purge_request(self, request_id: str, now: int) -> None:
        """The job it waited for is done: forward it now, or it is complete."""
        self._db.execute(
            sa.update(purge_requests)
            .where(purge_requests.c.id == request_id)
            .values(
                waiting_for_job=None,
                next_attempt_at=now,
                completed_at=sa.case((purge_requests.c.forward_to.is_(None), now), else_=None),
            )
        )

    def claim_due_purges(self, now: int, lease_ms: int, limit: int) -> list[PurgeRequest]:
        query = (
            sa.select(purge_requests)
            .where(
                purge_requests.c.completed_at.is_(None),
                purge_requests.c.waiting_for_job.is_(None),
                purge_requests.c.forward_to.is_not(None),
                purge_requests.c.next_attempt_at <= now,
            )
            .order_by(purge_requests.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self._db.execute(query).all()
        if rows:
            self._db.execute(
                sa.update(purge_requests)
                .where(purge_requests.c.id.in_([r.id for r in rows]))
                .values(next_attempt_at=now + lease_ms)
            )
        return [_purge_from(r._mapping) for r in rows]

    def purge_forwarded(self, request_id: str, attempts: int, now: int) -> None:
        self._db.execute(
            sa.update(purge_requests)
            .where(purge_requests.c.id == request_id)
            .values(completed_at=now, attempts=attempts, last_error=None)
        )

    def purge_attempt_failed(
        self, request_id: str, attempts: int, next_attempt_at: int | None, error: str, now: int
    ) -> None:
        """Schedule a retry, or give up (then the request is complete) when it is None."""
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:1000]}
        if next_attempt_at is None:
            values["completed_at"] = now
        else:
            values["next_attempt_at"] = next_attempt_at
        self._db.execute(
            sa.update(purge_requests).where(purge_requests.c.id == request_id).values(**values)
        )

    def digests_of_path(self, file_path: str, token: str | None) -> list[str]:
        """The blobs of a file's versions (of one version, given its ik-obj-version token)."""
        query = (
            sa.select(versions.c.blob_digest)
            .select_from(versions.join(files, files.c.id == versions.c.file_id))
            .where(files.c.file_path == file_path)
        )
        if token is not None:
            query = query.where(versions.c.token == token)
        return list(self._db.scalars(query.distinct()))

    def digests_under(self, path_prefix: str) -> list[str]:
        """The blobs of every version of every file whose path starts with the prefix."""
        query = (
            sa.select(versions.c.blob_digest)
            .select_from(versions.join(files, files.c.id == versions.c.file_id))
            .where(files.c.file_path.like(escape_like(path_prefix) + "%", escape="\\"))
        )
        return list(self._db.scalars(query.distinct()))

    # -- bandwidth -----------------------------------------------------------------------------

    def add_bandwidth(self, per_day: dict[str, int]) -> None:
        dialect = postgresql if self._db.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(bandwidth_days)
        upsert = statement.on_conflict_do_update(
            index_elements=["day"],
            set_={"bytes": bandwidth_days.c.bytes + statement.excluded.bytes},
        )
        for day in sorted(per_day):  # in one order: two flushes never deadlock
            self._db.execute(upsert, {"day": day, "bytes": per_day[day]})

    def bandwidth_between(self, first_day: str, end_day: str) -> int:
        """Bytes delivered on the days [first_day, end_day)."""
        query = sa.select(sa.func.coalesce(sa.func.sum(bandwidth_days.c.bytes), 0)).where(
            bandwidth_days.c.day >= first_day, bandwidth_days.c.day < end_day
        )
        return int(self._db.scalar(query) or 0)


def _purge_from(row: Any) -> PurgeRequest:
    return PurgeRequest(
        id=row["id"],
        url=row["url"],
        forward_to=row["forward_to"],
        attempts=int(row["attempts"]),
        created_at=int(row["created_at"]),
        completed_at=row["completed_at"],
        waiting_for_job=row["waiting_for_job"],
    )
