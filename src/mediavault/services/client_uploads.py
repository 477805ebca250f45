"""Uploads from browsers: check the V1 signature or V2 JWT of a form, and use it up.

The proof is burnt in its own transaction before anything else about the upload is looked at,
so it is spent even when the upload then fails (ImageKit tells clients to send a fresh token
after a failed request; spec section 2.1, step 7).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from mediavault.domain import upload_auth
from mediavault.errors import InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores


def authorize(
    stores: Stores, fields: Mapping[str, str], api_version: int, public_key: str, private_key: str
) -> None:
    """Raises InvalidRequest (400) or Forbidden (403) with ImageKit's message; else the
    proof is recorded as used and the upload may go on."""
    check = upload_auth.check_v1 if api_version == 1 else upload_auth.check_v2
    proof = check(fields, public_key, private_key, time.time())
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
