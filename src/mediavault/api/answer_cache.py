"""Answers served again from a worker's memory while their file has not changed.

A list of 100 versions costs about a millisecond of a worker's CPU to read and encode, a
version's details or a small delivery tens of microseconds, and clients, the console and CDNs
ask for the same ones again and again. Each worker keeps the answers it made (the fast reads'
in api/fast_reads.py, small deliveries' in api/routes/delivery.py), with the file's revision
they were made at (`files.revision`, which the database itself moves on every change to the
file or one of its versions, from one clock for the library: migration 0010). An answer is
served again only after one statement has read the same revision, so it is never older than
what a fresh read would give: a write committed by any worker or host moves the revision.

Bounded by bytes (least recently used out first); an answer larger than a tenth of the bound
is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, NamedTuple, TypeVar

MAX_BYTES = 8 * 1024 * 1024
T = TypeVar("T")


class CachedAnswer(NamedTuple):
    """A fast read's answer (api/fast_reads.py)."""

    revision: int
    body: bytes
    etag_id: str  # the current version's id: the answer's ETag


class AnswerCache(Generic[T]):
    """Answers by key, each with the revision of its file and its size in bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[int, int, T]] = OrderedDict()
        self._bytes = 0
        # PostgreSQL lookups run in worker threads: the dictionary's moves must not interleave.
        self._lock = threading.Lock()

    def get(self, key: str, revision: int) -> T | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != revision:
                return None
            self._entries.move_to_end(key)
            return found[2]

    def get_many(self, wanted: Sequence[tuple[str, int]]) -> list[T | None]:
        """get of each (key, revision), under one taking of the lock (a listing asks for up to
        1,000 at once)."""
        found: list[T | None] = []
        entries = self._entries
        with self._lock:
            for key, revision in wanted:
                entry = entries.get(key)
                if entry is None or entry[0] != revision:
                    found.append(None)
                else:
                    entries.move_to_end(key)
                    found.append(entry[2])
        return found

    def put(self, key: str, revision: int, answer: T, size: int) -> None:
        self.put_many([(key, revision, answer, size)])

    def put_many(self, entries: Iterable[tuple[str, int, T, int]]) -> None:
        """put of each (key, revision, answer, size), under one taking of the lock."""
        limit = self._max_bytes // 10
        with self._lock:
            for key, revision, answer, size in entries:
                if size > limit:
                    continue
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
                self._entries[key] = (revision, size, answer)
                self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, evicted, _) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def __contains__(self, key: str) -> bool:
        return key in self._entries  # one dictionary probe: no lock needed

    @property
    def size_bytes(self) -> int:
        return self._bytes


class RecentKeys:
    """The last `size` keys asked about: whether a key came before (and is still among them)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: Hashable) -> bool:
        """Whether `key` is among the recent keys; it is from now on, as the newest."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return False
