"""The If-Match check of a write, against the file row the write has just locked."""

from __future__ import annotations

from mediavault.domain.preconditions import ensure_expected_version
from mediavault.storage.metadata import Transaction


def ensure_current_version(tx: Transaction, file_id: str, expected: str | None) -> None:
    """Call after locking the file: no other write can change its current version until the
    transaction ends, so what is checked here is what the write changes."""
    if expected is None:
        return
    current = tx.get_current_version(file_id)
    ensure_expected_version(expected, current.id if current else None)
