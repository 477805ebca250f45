"""SQL for the used proofs of browser uploads (see mediavault.domain.upload_auth)."""

from __future__ import annotations

import sqlalchemy as sa

from mediavault.storage.tables import used_upload_tokens


class UploadTokenQueries:
    _db: sa.Connection

    def use_upload_token(self, key: str, expires_at: int) -> bool:
        """Record the proof as used; False if it was used before. The caller holds the write
        lock (BEGIN IMMEDIATE on SQLite); on PostgreSQL two first uses at once race on the
        primary key, and the loser's transaction fails with a conflict to retry, which then
        finds the row."""
        found = self._db.execute(
            sa.select(used_upload_tokens.c.key).where(used_upload_tokens.c.key == key)
        ).first()
        if found is not None:
            return False
        self._db.execute(sa.insert(used_upload_tokens), {"key": key, "expires_at": expires_at})
        return True

    def forget_expired_upload_tokens(self, now: int) -> int:
        result = self._db.execute(
            sa.delete(used_upload_tokens).where(used_upload_tokens.c.expires_at < now)
        )
        return result.rowcount or 0
