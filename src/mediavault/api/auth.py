"""ImageKit's authentication: HTTP Basic with the private key as user name (spec §1.3)."""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from mediavault.errors import Forbidden, Unauthenticated


def private_key_of(authorization: str | None) -> str | None:
    """The user name of a Basic Authorization header; None if there is no usable one.

    The password is ignored: the 5.x SDK sends `do_not_set`, the 4.x SDK an empty one.
    """
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, _password = decoded.partition(":")
    return user or None


def is_private_key(supplied: str, expected: str) -> bool:
    return hmac.compare_digest(supplied.encode(), expected.encode())


async def require_private_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard for every management and upload route; runs before any body is read.

    Async although it never waits: Litestar runs a sync guard in a thread, two hops a request.
    """
    supplied = private_key_of(connection.headers.get("authorization"))
    if supplied is None:
        raise Unauthenticated()
    expected: str = connection.app.state.private_key
    if not is_private_key(supplied, expected):
        raise Forbidden()
