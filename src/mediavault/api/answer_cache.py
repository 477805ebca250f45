"""Version lists answered again from memory while the file has not changed.

A list of 100 versions costs about a millisecond of a worker's CPU to read and encode (fetching
2,400 values, building 100 File objects, 60 KB of JSON), and a client, a console or a CDN
asks for the same list again and again. Each worker keeps the encoded answers it made, with
the file's revision they were made at (`files.revision`, which the database itself moves on
every change to the file or one of its versions: migration 0010). An answer is served again
only after one statement has read the same revision, so it is never older than what a fresh
read would give: a write committed by any worker or host moves the revision first.

Bounded by bytes (least recently used out first); an answer larger than a tenth of the bound
is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

MAX_BYTES = 8 * 1024 * 1024


class CachedAnswer(NamedTuple):
    revision: int
    body: bytes
    etag_id: str  # the current version's id: the answer's ETag


class AnswerCache:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._bytes = 0
        # PostgreSQL lookups run in worker threads: the dictionary's moves must not interleave.
        self._lock = threading.Lock()

    def get(self, key: str, revision: int) -> CachedAnswer | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found.revision != revision:
                return None
            self._entries.move_to_end(key)
            return found

    def put(self, key: str, answer: CachedAnswer) -> None:
        size = len(answer.body)
        if size > self._max_bytes // 10:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = answer
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)

    @property
    def size_bytes(self) -> int:
        return self._bytes
