"""SQLite's writers: one at a time, in the order they came, and several in one transaction.

SQLite has one write lock. Writers queue for it here, before BEGIN IMMEDIATE: a lock of this
process that hands the turn to the longest waiter (HandOffLock), then an flock shared by every
process on the database. SQLite's own busy handler would make a writer that finds the database
locked sleep and retry (1, 2, 5, ... up to 100 ms apart), so that under many writers an unlucky
one kept losing to newcomers; here a waiting writer sleeps in the kernel and is woken when the
writer before it is done. BEGIN IMMEDIATE and the busy timeout still guard the database against
writers that do not queue (a migration, the sqlite3 shell).

When a writer finishes while others of this process wait, it does not commit: the next one
runs in the same transaction, in a savepoint of its own (the first block needs none: if it
fails, no one joins and the transaction is rolled back), and so on, until no one waits (or the
batch is MAX_WRITERS long, or MAX_SECONDS old); the last one commits for all. Under 16 writers
the lock was held most of the time and a transaction cost about a millisecond, much of it its
BEGIN, its COMMIT and the WAL frames of each page it changed (the storage counters, the newest
end of the time indexes, the history's last page): written once per batch now. What each
writer sees and leaves is as before, because a batch is the writers' serial order:

- a writer's block takes effect entirely or not at all: one that raises is rolled back to its
  savepoint and gets its own error; the others go on;
- a writer whose block ended returns only once the COMMIT that holds its changes is durable:
  the writer that commits a batch gives the turn up and then waits on the commit barrier (one
  fdatasync of the WAL for many commits: mediavault.storage.durability), as a writer alone did
  before; the others of the batch wait for it. If that COMMIT or that sync fails, every writer
  of the batch gets the error, as each would have from a COMMIT of its own.

The blocks of a batch live in one transaction's dirty pages, in SQLite's page cache (2 MB a
connection): MAX_WRITERS keeps a batch of small writes well inside it, so that SQLite does not
spill pages into the WAL before the commit. The savepoints' journal is kept in memory
(`temp_store=MEMORY`, database.py): SQLite would otherwise write it to a file in /var/tmp
once it passes 64 KiB.
"""

from __future__ import annotations

import copy
import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from mediavault.errors import WriteConflict
from mediavault.storage.database import BUSY_TIMEOUT_SECONDS, HandOffLock
from mediavault.storage.durability import CommitBarrier

# A batch's first writer waits for the blocks of those after it: these bound how long.
MAX_WRITERS = 16
MAX_SECONDS = 0.025

_SAVEPOINT = "SAVEPOINT mv_writer"
_RELEASE = "RELEASE mv_writer"
_ROLLBACK_TO = "ROLLBACK TO mv_writer"


class SharedWrites:
    """The write transactions of one SQLite database, for the threads of this process."""

    def __init__(self, engine: sa.Engine, database: Path, barrier: CommitBarrier) -> None:
        self._engine = engine
        self._barrier = barrier
        self._path = Path(f"{database}.writer")  # holds no data: a power cut loses nothing
        self._turns = HandOffLock()
        self._fd = -1
        # Touched only by the thread whose turn it is.
        self._holder: int | None = None
        self._batch: _Batch | None = None
        self.batches = 0  # transactions ended, for tests and benchmarks

    def transaction(self) -> _Turn:
        """A writer's turn: entering waits for it and gives the transaction's connection; the
        block's end releases or rolls back its savepoint, and returns once the block's changes
        are committed and durable."""
        return _Turn(self)

    def close(self) -> None:
        with self._turns:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # -- the turn's holder only ----------------------------------------------------------------

    def _take_turn(self) -> _Batch:
        if self._holder == threading.get_ident():
            raise RuntimeError("a write transaction inside another one on the same thread")
        # As long as SQLite's busy timeout: then the writer gives up as BEGIN IMMEDIATE would.
        if not self._turns.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise WriteConflict()
        try:
            batch = self._batch or self._begin()
        except BaseException:
            self._end_turns()
            raise
        self._batch = batch
        try:
            batch.enter()
        except BaseException as exc:
            batch.break_off(exc)  # the writers before this one learn it from the batch's end
            self._pass_on_or_end(batch)
            raise
        self._holder = threading.get_ident()
        return batch

    def _begin(self) -> _Batch:
        if self._fd < 0:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Blocks as long as another process's batch runs (as a PostgreSQL row lock would);
        # each of those is bounded by MAX_SECONDS, plus one writer's block.
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            return _Batch(self._engine)
        except BaseException:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            raise

    def _pass_on_or_end(self, batch: _Batch) -> None:
        """After a writer's block: hand the open transaction to the next writer, or end it."""
        self._holder = None
        if batch.may_grow() and self._turns.pass_on():
            return  # the next writer holds the turn now, in this batch
        self._batch = None
        self.batches += 1
        try:
            batch.commit()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._end_turns()
        batch.make_durable(self._barrier)  # outside the turn: the next batch runs meanwhile

    def _end_turns(self) -> None:
        self._batch = None
        self._holder = None
        self._turns.release()


class _Turn:
    def __init__(self, writes: SharedWrites) -> None:
        self._writes = writes
        self._batch: _Batch | None = None

    def __enter__(self) -> sa.Connection:
        self._batch = self._writes._take_turn()
        return self._batch.connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        batch = self._batch
        assert batch is not None
        if exc is None:
            batch.keep()
        else:
            batch.undo()
        self._writes._pass_on_or_end(batch)
        if exc is None:
            batch.wait_for_end()  # raises what ended it, if it did not commit


class _Batch:
    """One transaction, shared by consecutive writers; each block after the first in a
    savepoint of its own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.connection = engine.connect()
        try:
            self._transaction = self.connection.begin()  # BEGIN IMMEDIATE (database.py)
        except BaseException:
            self.connection.close()
            raise
        driver = self.connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self._driver = driver
        self._started = time.monotonic()
        self._writers = 0
        self._kept = 0  # writers whose changes this transaction holds
        self._broken: BaseException | None = None  # the transaction can no longer commit
        self._failure: BaseException | None = None  # why the batch did not commit
        self._ended = threading.Event()

    def enter(self) -> None:
        self._writers += 1
        if self._writers > 1:  # the first writer's block is the transaction itself
            self._driver.execute(_SAVEPOINT)

    def break_off(self, exc: BaseException) -> None:
        self._broken = self._broken or exc

    def keep(self) -> None:
        if self._writers > 1:
            try:
                self._driver.execute(_RELEASE)
            except BaseException as exc:
                self.break_off(exc)
        self._kept += 1

    def undo(self) -> None:
        if self._writers == 1:
            # The first block failed: nothing is kept, no one may join (may_grow), commit()
            # rolls the transaction back and the writers waiting begin one of their own.
            return
        try:
            self._driver.execute(_ROLLBACK_TO)
            self._driver.execute(_RELEASE)
        except BaseException as exc:
            self.break_off(exc)
        if not self._driver.in_transaction:
            # SQLite rolls the whole transaction back itself after some errors (a full disk,
            # an I/O error): the earlier writers' changes are gone with it.
            self.break_off(sqlite3.OperationalError("the transaction was lost"))

    def may_grow(self) -> bool:
        return (
            self._broken is None
            and not (self._writers == 1 and self._kept == 0)  # the first block failed
            and self._writers < MAX_WRITERS
            and time.monotonic() - self._started < MAX_SECONDS
        )

    def commit(self) -> None:
        """Commit (or, when broken, roll back) and give the connection back to the pool."""
        try:
            if self._broken is not None:
                raise self._broken
            if self._kept:
                self._transaction.commit()
            else:  # every block raised: nothing to write, not even an empty commit's frames
                self._transaction.rollback()
        except BaseException as exc:
            self._failure = exc
            try:
                self._transaction.rollback()
            except Exception:
                self.connection.invalidate()
        finally:
            self.connection.close()

    def make_durable(self, barrier: CommitBarrier) -> None:
        """Wait for the sync that makes the commit durable, then let the batch's writers go."""
        try:
            if self._failure is None and self._kept:
                barrier.wait()
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ended.set()

    def wait_for_end(self) -> None:
        self._ended.wait()
        if self._failure is not None:
            # Each writer of the batch raises its own copy: one object raised in many threads
            # would get their tracebacks mixed.
            raise _copied(self._failure)


def _copied(failure: BaseException) -> BaseException:
    try:
        return copy.copy(failure)
    except Exception:
        return failure
