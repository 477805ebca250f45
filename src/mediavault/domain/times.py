"""Times as ImageKit writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


# Every read formats the same few timestamps again; formatting is a visible share of a lookup.
@lru_cache(maxsize=65536)
def iso(ms: int) -> str:
    """Epoch milliseconds as `2024-03-12T09:41:07.318Z`."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
