"""Whether anything was committed to a SQLite database since a moment, without running a
statement: a read of the wal-index header, in the database's -shm file.

Every commit in WAL mode rewrites that header (the last frame, a change counter, checksums:
https://www.sqlite.org/walformat.html, "The WAL-Index Header"), before the commit returns, in
whichever process it happens, and whatever made it (mediavault, a migration, the sqlite3 shell).
So while the header stays byte for byte the same, nothing was committed. Reading it is a copy of
96 bytes from shared memory, a tenth of a microsecond; the statement it saves cost several and
let the GIL go twice, which under load made the revision check of the details route a quarter
of the worker's samples (profiled).

The header is written twice, the second copy first; a reader that finds the copies different
has read one while it was being written, and counts that as a change. A header that is not
there (not WAL mode, a -shm file not made yet) is a change every time: the callers then run
their statement as before.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_HEADER = 48  # one copy of WalIndexHdr
_IS_INIT = 12  # its isInit byte: 1 once the header has been built


class WalIndexHeader:
    """The wal-index header of a database that a connection of this process holds open in WAL
    mode. While that connection stays open SQLite neither deletes nor truncates the -shm file
    (only the last connection to close does), so the mapping stays the one SQLite writes."""

    def __init__(self, database: Path) -> None:
        # SQLite names the -shm file after the database's real path, symbolic links resolved.
        descriptor = os.open(f"{os.path.realpath(database)}-shm", os.O_RDONLY)
        try:
            self._map = mmap.mmap(descriptor, 2 * _HEADER, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(descriptor)

    @classmethod
    def open(cls, database: Path) -> WalIndexHeader | None:
        """The header; None if there is none to map (no -shm file, or a shorter one)."""
        try:
            return cls(database)
        except (OSError, ValueError):
            return None

    def state(self) -> bytes | None:
        """The header's bytes; None if they are changing or not built."""
        both = self._map[: 2 * _HEADER]
        first = both[:_HEADER]
        if first != both[_HEADER:] or first[_IS_INIT] != 1:
            return None
        return first

    def close(self) -> None:
        self._map.close()


class UnchangedMemo:
    """Answers kept while the database's header stays the same: emptied at the first commit.

    A value is computed after the header is read, so it is never older than the header it is
    kept under; if it is newer (a commit came in between), the next read sees a new header and
    empties the memo anyway.
    """

    def __init__(self, header: WalIndexHeader, limit: int = 4096) -> None:
        self._header = header
        self._limit = limit
        self._state: bytes | None = None
        self._values: dict[Hashable, object] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        state = self._header.state()
        if state is None or state != self._state:
            self._values.clear()
            self._state = state
            if state is None:
                return compute()
        try:
            return self._values[key]  # type: ignore[return-value]
        except KeyError:
            value = compute()
            if len(self._values) < self._limit:
                self._values[key] = value
            return value
