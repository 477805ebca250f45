"""Idempotent retries: the first completed answer of a request is kept under its key.

A request carrying `Idempotency-Key` claims the key in a short transaction of its own, runs,
and then records its answer in another (claim -> run -> record). A repeat of the same request
(same method, path and meaning: its digest) gets the recorded answer and changes nothing; the
same key on another request is refused; a repeat while the first still runs is refused with a
409 that may be retried. A claim whose process died (liveness owner gone), or that outlived
the staging grace period, lapses: the next request with the key takes it over. A failed first
request (5xx, or an answer that asks to be retried) releases its claim instead of recording.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mediavault.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores
from mediavault.storage.idempotency_queries import IdempotencyRecord

log = logging.getLogger("mediavault.idempotency")

MAX_KEY_CHARS = 255
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_CHARS}}}")


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class Decision(enum.Enum):
    CLAIM = "claim"  # no row: insert the claim
    TAKE_OVER = "take over"  # an expired answer or a lapsed claim: replace it
    REPLAY = "replay"  # the same request completed: answer as it did


def checked_key(raw: str) -> str:
    if not _KEY.fullmatch(raw):
        raise InvalidRequest(
            "Your request contains invalid Idempotency-Key header. "
            f"It must be 1 to {MAX_KEY_CHARS} printable ASCII characters."
        )
    return raw


def request_digest(method: str, path: str, meaning: str, conditions: Sequence[str] = ()) -> str:
    """What makes two requests "the same": method, path, a digest of their meaning, and the
    conditional headers they carry (If-Match, If-None-Match), if any."""
    text = "\n".join([method.upper(), path, meaning, *conditions])
    return hashlib.sha256(text.encode()).hexdigest()


def body_meaning(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def upload_meaning(fields: Mapping[str, str], file_digest: str, file_is_text: bool) -> str:
    """An upload's meaning: its parsed fields and its file's sha256, not the raw body, whose
    multipart boundary (and order of parts) a client may change on every retry."""
    text = json.dumps([sorted(fields.items()), file_digest, file_is_text], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def decide(
    record: IdempotencyRecord | None,
    digest: str,
    now: int,
    is_alive: Callable[[int], bool],
    stale_before: int,
) -> Decision:
    """What a request with this key does, given what the key holds."""
    if record is None:
        return Decision.CLAIM
    if record.status is None:
        # The first request has not answered: it is running, or its process died.
        if is_alive(record.owner) and record.created_at > stale_before:
            if record.request_digest != digest:
                raise IdempotencyKeyReused()
            raise IdempotencyKeyInUse()
        return Decision.TAKE_OVER
    if record.expires_at <= now:
        return Decision.TAKE_OVER
    if record.request_digest != digest:
        raise IdempotencyKeyReused()
    return Decision.REPLAY


@retry_on_conflict
def claim(stores: Stores, key: str, digest: str, lifetime_ms: int) -> StoredAnswer | None:
    """Claim the key for this request (None: run it), or the answer to replay."""
    now = now_ms()
    with stores.meta.write() as tx:
        record = tx.idempotency_record(key, lock=True)
        stale_before = now - stores.staging_grace_ms
        decision = decide(record, digest, now, stores.liveness.is_alive, stale_before)
        if decision is Decision.REPLAY:
            assert record is not None and record.status is not None
            return StoredAnswer(record.status, dict(record.headers or {}), record.body or b"")
        owner = stores.liveness.owner
        new = decision is Decision.CLAIM
        tx.claim_idempotency_key(key, digest, owner, now, now + lifetime_ms, new=new)
    return None


@retry_on_conflict
def record(stores: Stores, key: str, answer: StoredAnswer, lifetime_ms: int) -> None:
    """Keep the answer for `lifetime_ms` from now. Should the claim have lapsed meanwhile
    (taken over as stale), the other request's outcome stands and this one is not kept."""
    with stores.meta.write() as tx:
        kept = tx.record_idempotent_answer(
            key,
            stores.liveness.owner,
            answer.status,
            answer.headers,
            answer.body,
            now_ms() + lifetime_ms,
        )
    if not kept:
        log.warning("an idempotency key's claim lapsed before its answer was recorded")


@retry_on_conflict
def release(stores: Stores, key: str) -> None:
    with stores.meta.write() as tx:
        tx.release_idempotency_key(key, stores.liveness.owner)


def collect(stores: Stores) -> int:
    """Remove expired answers and the claims of requests that will never answer."""
    now = now_ms()
    with stores.meta.write() as tx:
        removed = tx.delete_expired_idempotency_keys(now)
        for key, owner, created_at in tx.running_idempotency_claims():
            stale = created_at <= now - stores.staging_grace_ms
            if stale or not stores.liveness.is_alive(owner):
                tx.release_idempotency_key(key, owner)
                removed += 1
    return removed
