"""Uploads straight from browsers: ImageKit's V1 signature and V2 JWT rules, as pure functions.

A browser never holds the private key. The application's backend hands it short-lived proof
that it may upload once:

- V1 (`POST /api/v1/files/upload`): `publicKey`, `token` (any unique string), `expire` (Unix
  seconds, in the future and less than an hour ahead) and `signature` =
  hex(HMAC-SHA1(private key, token + expire)), as the SDKs' `get_authentication_parameters`
  computes it.
- V2 (`POST /api/v2/files/upload`): a JWT in `token`, HS256 with the private key, `kid` the public
  key, `exp` less than an hour ahead, whose claims are every other form field, as strings.

Each proof is good for one request, even a failed one: `Proof.key` names it for the store of
used tokens, until `Proof.expires_at`. The checks run in the order of the spec (section 2.1).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from mediavault.errors import Forbidden, InvalidRequest

V1_FIELDS = ("publicKey", "signature", "expire", "token")
# The longest an expiry may lie ahead, and how long past it a used token is still remembered
# (clients' clocks drift; a token must never become usable again while it could still verify).
MAX_LIFETIME_S = 3600
CLOCK_SKEW_S = 300
_REGISTERED_CLAIMS = frozenset({"iat", "exp", "nbf", "iss", "aud", "sub", "jti"})

BOTH_V1 = (
    "Your request contains both signature and basic auth parameter. Use only one method, "
    "you might be exposing your private API key."
)
BOTH_V2 = (
    "Your request contains both token and basic auth parameter. Use only one method, "
    "you might be exposing your private API key."
)
INVALID_EXPIRE = (
    "Your request contains invalid expire parameter. Expire parameter should be a Unix time "
    "in less than 1 hour into the future."
)
INVALID_SIGNATURE = "Your request contains invalid signature parameter."
INVALID_TOKEN = "Your request has invalid token."
EXPIRED_TOKEN = "Your request contains expired token."
PAYLOAD_MISMATCH = (
    "Your request contains invalid payload. It does not match with the payload used to "
    "generate token."
)


@dataclass(frozen=True)
class Proof:
    """A verified proof: `key` identifies it among used ones until `expires_at` (ms)."""

    key: str
    expires_at: int
    # V1's reuse message names the token the client sent.
    reused_message: str


def wants_v1(fields: Mapping[str, str]) -> bool:
    """Does the form carry any of V1's fields (so the client meant to sign it)?"""
    return any(name in fields for name in V1_FIELDS)


def signature_v1(private_key: str, token: str, expire: str) -> str:
    return hmac.new(private_key.encode(), (token + expire).encode(), hashlib.sha1).hexdigest()


def check_v1(fields: Mapping[str, str], public_key: str, private_key: str, now_s: float) -> Proof:
    for name in V1_FIELDS:
        if not fields.get(name):
            raise InvalidRequest(f"Your request is missing {name} parameter.")
    expire = fields["expire"]
    if not expire.isascii() or not expire.isdigit() or len(expire) > 12:
        raise InvalidRequest(INVALID_EXPIRE)
    expires = int(expire)
    if expires <= now_s or expires > now_s + MAX_LIFETIME_S:
        raise InvalidRequest(INVALID_EXPIRE)
    if not hmac.compare_digest(fields["publicKey"].encode(), public_key.encode()):
        raise Forbidden("Your account cannot be authenticated.")
    expected = signature_v1(private_key, fields["token"], expire)
    if not hmac.compare_digest(fields["signature"].lower().encode(), expected.encode()):
        raise InvalidRequest(INVALID_SIGNATURE)
    token = fields["token"]
    return Proof(
        key="v1:" + hashlib.sha256(token.encode()).hexdigest(),
        expires_at=(expires + CLOCK_SKEW_S) * 1000,
        reused_message=(
            f"The token with value '{token}' has been used before. We suggest using V4 UUIDs, "
            "or another random string with enough entropy to avoid collisions."
        ),
    )


def check_v2(fields: Mapping[str, str], public_key: str, private_key: str, now_s: float) -> Proof:
    token = fields.get("token")
    if not token:
        raise InvalidRequest("Your request is missing token parameter.")
    # Imported at the first V2 upload: PyJWT is about 1 MB of a worker that may never see one.
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        # Only HS256, so that neither `none` nor a public-key algorithm is ever accepted.
        claims = jwt.decode(
            token,
            private_key,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise InvalidRequest(INVALID_TOKEN) from None
    if not isinstance(header.get("kid"), str) or not hmac.compare_digest(
        header["kid"].encode(), public_key.encode()
    ):
        raise InvalidRequest(INVALID_TOKEN)
    expires, issued = _number(claims.get("exp")), _number(claims.get("iat", now_s))
    if expires is None or issued is None:
        raise InvalidRequest(INVALID_TOKEN)
    if expires <= now_s:
        raise InvalidRequest(EXPIRED_TOKEN)
    if expires - now_s > MAX_LIFETIME_S or expires - issued > MAX_LIFETIME_S:
        raise InvalidRequest(INVALID_TOKEN)
    signed = {k: v for k, v in claims.items() if k not in _REGISTERED_CLAIMS}
    sent = {k: v for k, v in fields.items() if k != "token"}
    if signed.keys() != sent.keys() or any(
        not isinstance(value, str) or value != sent[name] for name, value in signed.items()
    ):
        raise InvalidRequest(PAYLOAD_MISMATCH)
    # ImageKit's message for a used JWT is unknown; the spec proposes "invalid token".
    return Proof(
        key="v2:" + hashlib.sha256(token.encode()).hexdigest(),
        expires_at=(int(expires) + CLOCK_SKEW_S) * 1000,
        reused_message=INVALID_TOKEN,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
