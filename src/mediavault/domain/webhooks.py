"""Webhook events and their signatures (spec §8).

Every delivery carries both signature schemes, so that receivers of either kind verify it:

- `x-ik-signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (ImageKit's docs);
- Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 sig>`
  over `"<id>.<timestamp>.<body>"`, which the 5.x SDK's `webhooks.unwrap()` verifies. The HMAC
  key is the secret's text exactly as configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from mediavault.domain.times import iso

FILE_CREATED = "file.created"
FILE_UPDATED = "file.updated"
FILE_DELETED = "file.deleted"
VERSION_CREATED = "file-version.created"
VERSION_DELETED = "file-version.deleted"


def event_body(event_type: str, data: dict[str, Any], now_ms: int) -> tuple[str, str]:
    """The event's id and its JSON body, as it will be sent and signed, byte for byte."""
    event_id = str(uuid.uuid4())
    body = {"id": event_id, "type": event_type, "created_at": iso(now_ms), "data": data}
    return event_id, json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signature_headers(event_id: str, body: str, secret: str, now_ms: int) -> dict[str, str]:
    key, payload = secret.encode(), body.encode()
    seconds = str(now_ms // 1000)
    standard = hmac.new(key, f"{event_id}.{seconds}.".encode() + payload, hashlib.sha256)
    documented = hmac.new(key, f"{now_ms}.".encode() + payload, hashlib.sha256)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": seconds,
        "webhook-signature": "v1," + base64.b64encode(standard.digest()).decode(),
        "x-ik-signature": f"t={now_ms},v1={documented.hexdigest()}",
    }
