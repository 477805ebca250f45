"""Identifiers: 24-hex file and version ids, and the opaque `ik-obj-version` URL tokens."""

from __future__ import annotations

import base64
import re
import secrets
import time

_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def new_object_id() -> str:
    """A MongoDB-ObjectId-shaped id: 4 bytes of seconds, then 8 random bytes.

    The time prefix keeps ids roughly ordered by creation, which keeps index inserts local.
    """
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def is_object_id(value: str) -> bool:
    return _OBJECT_ID.fullmatch(value) is not None


def new_version_token() -> str:
    """The 32-character token of a version URL (`?ik-obj-version=`); opaque, not the id.

    192 random bits in base64 with `.` and `_` for its last two symbols: letters, digits, `.`
    and `_`, each character uniform, from one call for random bytes rather than 32."""
    return base64.b64encode(secrets.token_bytes(24), altchars=b"._").decode("ascii")


def new_lease_id() -> str:
    return secrets.token_hex(16)
