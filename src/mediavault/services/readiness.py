"""Readiness: does the database answer and does the blob store take a write, right now.

Each check is a real round trip (a query that reads the schema; a tiny staging object
written, made durable and removed), so a probe costs milliseconds: answers are kept for
`ttl` seconds per process, and a load balancer polling every worker often costs one probe a
second each.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from mediavault.services.stores import Stores
from mediavault.storage.blobs import BlobStore
from mediavault.storage.ops_queries import probe_database

log = logging.getLogger("mediavault")
PROBE_BYTES = b"mediavault readiness probe\n"


@dataclass(frozen=True)
class Readiness:
    failed: tuple[str, ...]  # "database", "blob store": what did not answer

    @property
    def ready(self) -> bool:
        return not self.failed


def probe_blob_store(blobs: BlobStore) -> None:
    """Write a few bytes to the staging area, make them durable, and remove them."""
    writer = blobs.stage(len(PROBE_BYTES))
    try:
        writer.write(PROBE_BYTES)
        staged = writer.finish()
    except BaseException:
        writer.abort()
        raise
    blobs.discard(staged)


class ReadinessProbe:
    def __init__(self, stores: Stores, ttl: float = 1.0) -> None:
        self._stores = stores
        self._ttl = ttl
        self._lock = threading.Lock()
        self._last: tuple[float, Readiness] | None = None

    def check(self) -> Readiness:
        """The last answer if it is fresh, else a new probe (one at a time per process)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self._ttl:
                return self._last[1]
            failed = []
            if not _answers("database", probe_database, self._stores.meta.engine):
                failed.append("database")
            if not _answers("blob store", probe_blob_store, self._stores.blobs):
                failed.append("blob store")
            readiness = Readiness(tuple(failed))
            self._last = (time.monotonic(), readiness)
            return readiness


def _answers(name: str, probe: object, target: object) -> bool:
    try:
        probe(target)  # type: ignore[operator]  # each probe takes its own target
    except Exception as exc:
        log.warning("readiness: the %s does not answer: %s: %s", name, type(exc).__name__, exc)
        return False
    return True
