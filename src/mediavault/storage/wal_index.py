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
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_HEADER = 48  # one copy of WalIndexHdr
_IS_INIT = 12  # its isInit byte: 1 once the header has been built


class WalIndexHeader:
    """The wal-index header of a database that a connection of this process holds open in WAL
    mode. While that connection stays open SQLite neither deletes nor truncates the -shm file
    (only the last connection to close does), so the mapping stays the one SQLite writes.

    A header is never closed, nor its descriptor (nor the one mmap keeps): POSIX locks belong
    to a process and a file, not to a descriptor, so closing any descriptor of the -shm file
    drops every lock this process holds on it, SQLite's included: the reader marks that keep a
    checkpoint from resetting the WAL under a reader, the writer's lock, and the one that tells
    other processes the file is in use (without it, the next connection to open the database
    anywhere takes itself for the only one and rebuilds the file, and a process reading its
    mapping then dies of SIGBUS). SQLite keeps its own descriptors open for that reason.
    tests/unit/test_wal_index.py shows a checkpoint held back by a reader while headers come
    and go. So there is one header per -shm file (by inode) and process, kept for the life of
    the process: two descriptors, opened again only if the file is replaced, which happens only
    once no connection anywhere holds it open."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor  # kept open: see the class docstring
        self._map = mmap.mmap(descriptor, 2 * _HEADER, mmap.MAP_SHARED, mmap.PROT_READ)

    @classmethod
    def open(cls, database: Path) -> WalIndexHeader | None:
        """This process's header of the database; None if there is none to map (no -shm
        file, or a shorter one)."""
        # SQLite names the -shm file after the database's real path, symbolic links resolved.
        path = f"{os.path.realpath(database)}-shm"
        try:
            status = os.stat(path)
        except OSError:
            return None
        with _registry_lock:
            key = (status.st_dev, status.st_ino)
            if key not in _registry:
                opened = _open_into_registry(path)
                if opened is None:
                    return None
                key = opened
            entry = _registry[key]
            if isinstance(entry, int) and os.fstat(entry).st_size >= 2 * _HEADER:
                # Too short when first opened; SQLite has built it since. Checked here, as
                # mmap's own refusal would close a descriptor.
                entry = _registry[key] = cls(entry)
        return entry if isinstance(entry, WalIndexHeader) else None

    def state(self) -> bytes | None:
        """The header's bytes; None if they are changing or not built."""
        both = self._map[: 2 * _HEADER]
        first = both[:_HEADER]
        if first != both[_HEADER:] or first[_IS_INIT] != 1:
            return None
        return first


# Every -shm file this process opened, by (device, inode): its header, or the bare descriptor
# of one too short to map yet. Never emptied (see WalIndexHeader).
_registry: dict[tuple[int, int], WalIndexHeader | int] = {}
_registry_lock = threading.Lock()


def _open_into_registry(path: str) -> tuple[int, int] | None:
    """Opens the file at `path` into the registry (as a bare descriptor); its key."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    status = os.fstat(descriptor)  # the file opened, should it have been replaced meanwhile
    key = (status.st_dev, status.st_ino)
    if key in _registry:
        # Opened twice: this descriptor stays open too rather than drop the process's locks.
        _spare_descriptors.append(descriptor)
    else:
        _registry[key] = descriptor
    return key


_spare_descriptors: list[int] = []


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
