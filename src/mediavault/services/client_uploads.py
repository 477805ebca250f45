"""Uploads from browsers: check the V1 signature or V2 JWT of a form, and use it up.

A proof is checked as soon as the form is read and spent, in its own transaction, before the
upload itself runs, so it is spent even when the upload then fails (ImageKit tells clients to
send a fresh token after a failed request; spec section 2.1, step 7). Under an
Idempotency-Key, a replayed answer spends nothing: the first request spent the proof.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from mediavault.domain import upload_auth
from mediavault.domain.upload_auth import Proof
from mediavault.errors import InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores


def check(fields: Mapping[str, str], api_version: int, public_key: str, private_key: str) -> Proof:
    """The form's V1 signature or V2 JWT, verified (no I/O). Raises InvalidRequest (400) or
    Forbidden (403) with ImageKit's message."""
    verify = upload_auth.check_v1 if api_version == 1 else upload_auth.check_v2
    return verify(fields, public_key, private_key, time.time())


def use(stores: Stores, proof: Proof) -> None:
    """Record the proof as used, in its own transaction; InvalidRequest if it was before."""
    if not _use(stores, proof.key, proof.expires_at):
        raise InvalidRequest(proof.reused_message)


@retry_on_conflict
def _use(stores: Stores, key: str, expires_at: int) -> bool:
    with stores.meta.write() as tx:
        return tx.use_upload_token(key, expires_at)


def collect(stores: Stores) -> int:
    """Forget used proofs whose expiry has passed (they could not verify any more)."""
    with stores.meta.write() as tx:
        return tx.forget_expired_upload_tokens(now_ms())
