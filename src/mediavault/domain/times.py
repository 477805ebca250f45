"""Times as ImageKit writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ms: int) -> str:
    """Epoch milliseconds as `2024-03-12T09:41:07.318Z`."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
