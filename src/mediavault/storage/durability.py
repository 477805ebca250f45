"""Group commit on SQLite: one fsync of the WAL makes every commit before it durable.

SQLite runs in WAL mode with `synchronous=NORMAL`: a commit appends its frames to the WAL and
releases the write lock without syncing (FULL would fdatasync the WAL inside the commit, with
the lock held, so that every writer waits for every other writer's fsync). Then, before the
transaction's caller goes on (MetadataStore.write, so before any request that wrote is
answered), it waits on this process's barrier: an fdatasync of the WAL that *started after*
the commit returned. The WAL is one log, written in commit order, so that one fdatasync covers
every commit appended before it, by any thread and any process; what FULL promised (a commit
is on disk before its request is acknowledged) holds, while one fsync serves many writers.

The barrier is a leader/follower scheme. The first waiter with no sync in progress leads a
round: it syncs while later waiters queue. Whoever arrives while a round is under way cannot
count on it (that round may have started before their commit's frames were written) and waits
for the next one, which the first of them leads as soon as the current one ends. So each
round serves every commit that arrived while the previous one ran.

A failed sync fails its round and every later one in this process (`DurabilityLost`): after a
failed fsync the kernel may have dropped the pages it could not write and marked them clean,
so a later fsync can succeed without them. Only a restart (which replays the WAL as the disk
has it) lets writes be acknowledged again.

SQLite syncs the WAL itself before each checkpoint copies frames into the database (and deletes
or truncates the WAL only after a checkpoint that reached the database file, synced), so frames
that leave the WAL were durable before they left.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class DurabilityLost(OSError):
    """A sync of the WAL failed: committed writes may not survive a power cut."""


class CommitBarrier:
    """Makes commits durable before their writers go on. No-op where commits already are."""

    def wait(self) -> None:
        """Return once every commit this thread made before the call is durable."""

    def close(self) -> None:
        """Give back what the barrier holds (a descriptor of the WAL)."""


class WalBarrier(CommitBarrier):
    """One fdatasync of a SQLite database's WAL serves every commit before it (group commit)."""

    def __init__(self, database: Path) -> None:
        self._wal = Path(f"{database}-wal")
        self._changed = threading.Condition(threading.Lock())
        self._started = 0  # rounds begun
        self._finished = 0  # rounds ended, successfully or not
        self._failure: BaseException | None = None  # once set, every later round fails
        self._fd = -1
        self._inode: tuple[int, int] | None = None
        self.rounds = 0  # syncs made, for tests and benchmarks

    def wait(self) -> None:
        with self._changed:
            if self._failure is not None:
                raise _lost(self._failure)
            # A round that is under way may have started before this commit: the next one.
            needed = self._started + 1
            while self._finished < needed:
                if self._started == self._finished:  # no round running: lead one
                    self._started += 1
                    self._changed.release()
                    try:
                        failure = self._sync()
                    finally:
                        self._changed.acquire()
                    if failure is not None and self._failure is None:
                        self._failure = failure
                    self._finished += 1
                    self._changed.notify_all()
                else:
                    self._changed.wait()
            if self._failure is not None:
                raise _lost(self._failure)

    def _sync(self) -> BaseException | None:
        """Sync the WAL; the error instead of raising it (the caller holds no lock now)."""
        try:
            fd = self._open()
            if fd >= 0:
                os.fdatasync(fd)
                self.rounds += 1
        except OSError as exc:
            return exc
        return None

    def _open(self) -> int:
        """The WAL's descriptor, opened again when SQLite replaced the file; -1 without a WAL.

        Kept open between rounds, so that a write-back error the kernel reports after it was
        opened is seen by the next fdatasync. A WAL that is gone, or that replaced an earlier
        one, was preceded by a checkpoint that synced every earlier frame into the database.
        """
        try:
            now = os.stat(self._wal)
        except FileNotFoundError:
            return -1
        if self._inode != (now.st_dev, now.st_ino):
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._fd = os.open(self._wal, os.O_RDONLY | os.O_CLOEXEC)
            opened = os.fstat(self._fd)
            self._inode = (opened.st_dev, opened.st_ino)
        return self._fd

    def close(self) -> None:
        with self._changed:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._inode = None


def _lost(failure: BaseException) -> DurabilityLost:
    lost = DurabilityLost(
        "the database's log could not be synced to disk; writes fail until the process restarts"
    )
    lost.__cause__ = failure
    return lost
