"""SQL for idempotency keys: a claim per key while its first request runs, then its answer."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mediavault.storage.tables import idempotency_keys

_RUNNING = idempotency_keys.c.status.is_(None)


@dataclass(frozen=True)
class IdempotencyRecord:
    key: str
    request_digest: str
    owner: int  # the liveness owner of the process that ran (or runs) the first request
    status: int | None  # None while the first request runs
    headers: dict[str, str] | None
    body: bytes | None
    created_at: int  # ms since the epoch: when the request was claimed
    expires_at: int


class IdempotencyQueries:
    _db: sa.Connection

    def idempotency_record(self, key: str, *, lock: bool = False) -> IdempotencyRecord | None:
        query = sa.select(idempotency_keys).where(idempotency_keys.c.key == key)
        if lock:
            query = query.with_for_update()
        row = self._db.execute(query).first()
        if row is None:
            return None
        body = row.body
        return IdempotencyRecord(
            row.key,
            row.request_digest,
            row.owner,
            row.status,
            row.headers,
            bytes(body) if body is not None else None,
            row.created_at,
            row.expires_at,
        )

    def claim_idempotency_key(
        self, key: str, request_digest: str, owner: int, now: int, expires_at: int, *, new: bool
    ) -> None:
        """Insert the claim, or (`new` false) replace whatever the key held."""
        values = {
            "request_digest": request_digest,
            "owner": owner,
            "status": None,
            "headers": None,
            "body": None,
            "created_at": now,
            "expires_at": expires_at,
        }
        if new:
            self._db.execute(sa.insert(idempotency_keys).values(key=key, **values))
        else:
            self._db.execute(
                sa.update(idempotency_keys).where(idempotency_keys.c.key == key).values(**values)
            )

    def record_idempotent_answer(
        self,
        key: str,
        owner: int,
        status: int,
        headers: dict[str, str],
        body: bytes,
        expires_at: int,
    ) -> bool:
        """Store the answer on the claim `owner` holds; False if the claim is no longer its."""
        result = self._db.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == key, idempotency_keys.c.owner == owner, _RUNNING)
            .values(status=status, headers=headers, body=body, expires_at=expires_at)
        )
        return bool(result.rowcount)

    def release_idempotency_key(self, key: str, owner: int) -> None:
        """Drop the claim `owner` holds, so that the key may be used again."""
        self._db.execute(
            sa.delete(idempotency_keys).where(
                idempotency_keys.c.key == key, idempotency_keys.c.owner == owner, _RUNNING
            )
        )

    def delete_expired_idempotency_keys(self, now: int) -> int:
        """Stored answers past their expiry; claims of running requests are left alone."""
        result = self._db.execute(
            sa.delete(idempotency_keys).where(
                idempotency_keys.c.expires_at <= now, idempotency_keys.c.status.is_not(None)
            )
        )
        return int(result.rowcount or 0)

    def running_idempotency_claims(self) -> list[tuple[str, int, int]]:
        """(key, owner, created_at) of every claim whose request has not answered yet."""
        query = sa.select(
            idempotency_keys.c.key, idempotency_keys.c.owner, idempotency_keys.c.created_at
        ).where(_RUNNING)
        return [(r.key, r.owner, r.created_at) for r in self._db.execute(query)]
