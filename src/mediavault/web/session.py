"""The console's sign-in: signed session cookies and CSRF tokens, with no server-side state.

The secret is derived from the private key with HMAC, so every worker and every host that
shares the key accepts the same cookies, and changing the key signs everyone out. A cookie is
`<session id>.<expiry, Unix seconds>.<HMAC-SHA256 of both>`; its CSRF token is another HMAC of
the session id, sent back in a hidden form field or the `x-csrf-token` header. Every comparison
runs in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "mediavault_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SECRET_LABEL = b"mediavault web console session v1"


@dataclass(frozen=True)
class Session:
    id: str
    expires_at: int  # Unix seconds


def session_secret(private_key: str) -> bytes:
    return hmac.new(private_key.encode(), _SECRET_LABEL, hashlib.sha256).digest()


def key_matches(private_key: str, sent: str) -> bool:
    return hmac.compare_digest(sent.strip().encode(), private_key.encode())


def issue(secret: bytes, now: float, hours: float) -> tuple[str, Session]:
    """A new session and its cookie value."""
    session = Session(secrets.token_hex(16), int(now + hours * 3600))
    payload = f"{session.id}.{session.expires_at}"
    return f"{payload}.{_mac(secret, 'session', payload)}", session


def read(secret: bytes, cookie: str | None, now: float) -> Session | None:
    """The session a cookie carries, or None when it is absent, forged or expired."""
    if not cookie:
        return None
    parts = cookie.split(".")
    if len(parts) != 3:
        return None
    session_id, expires, mac = parts
    expected = _mac(secret, "session", f"{session_id}.{expires}")
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    if not expires.isdigit() or int(expires) <= now:
        return None
    return Session(session_id, int(expires))


def csrf_token(secret: bytes, session: Session) -> str:
    return _mac(secret, "csrf", session.id)


def csrf_ok(secret: bytes, session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(
        (sent or "").encode(), csrf_token(secret, session).encode()
    )


def _mac(secret: bytes, purpose: str, message: str) -> str:
    # The purpose keeps a CSRF token from ever passing as a session signature, and back.
    return hmac.new(secret, f"{purpose}:{message}".encode(), hashlib.sha256).hexdigest()
