"""Signed delivery URLs, as the ImageKit SDKs make them (spec §7.4).

The SDK signs the URL relative to the URL endpoint (path and query, `ik-t`/`ik-s` excluded)
followed by the expiry in Unix seconds, or by 9999999999 when the URL never expires:
`ik-s = hex(HMAC-SHA1(private key, relative URL + expiry))`.
"""

from __future__ import annotations

import hashlib
import hmac

NEVER_EXPIRES = "9999999999"


def sign(private_key: str, relative_url: str, expires: str = NEVER_EXPIRES) -> str:
    message = (relative_url + expires).encode()
    return hmac.new(private_key.encode(), message, hashlib.sha1).hexdigest()


def is_valid_signature(
    private_key: str, relative_url: str, signature: str, expires: str | None, now: float
) -> bool:
    """True when `signature` signs `relative_url` and the expiry, if any, is still ahead."""
    if expires is not None and (
        not expires.isascii() or not expires.isdigit() or int(expires) < now
    ):
        return False
    expected = sign(private_key, relative_url, expires or NEVER_EXPIRES)
    # As bytes: compare_digest refuses str with characters beyond ASCII (a 500, not a 401).
    return hmac.compare_digest(expected.encode(), signature.lower().encode())
