"""Group commit on SQLite (mediavault.storage.durability): one sync of the WAL serves every
commit before it, never one that was written after the sync began, and a failed sync fails
every writer from then on."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediavault.storage import durability
from mediavault.storage.database import create_sqlite_engine
from mediavault.storage.durability import DurabilityLost, WalBarrier
from mediavault.storage.metadata import MetadataStore


class SlowSyncs:
    """Stands in for os.fdatasync: records when each sync started and ended."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.spans: list[tuple[float, float]] = []
        self.fail = False

    def __call__(self, fd: int) -> None:
        started = time.monotonic()
        time.sleep(self.seconds)
        if self.fail:
            raise OSError(5, "Input/output error")
        self.spans.append((started, time.monotonic()))


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> SlowSyncs:
    fake = SlowSyncs()
    monkeypatch.setattr(durability.os, "fdatasync", fake)
    return fake


def _wal(tmp_path: Path) -> Path:
    database = tmp_path / "db.sqlite3"
    Path(f"{database}-wal").write_bytes(b"frames")
    return database


def test_each_waiter_returns_after_a_sync_that_began_after_it_arrived(
    tmp_path: Path, syncs: SlowSyncs
) -> None:
    barrier = WalBarrier(_wal(tmp_path))
    arrived: dict[int, float] = {}
    returned: dict[int, float] = {}

    def writer(n: int) -> None:
        time.sleep(n * 0.003)
        arrived[n] = time.monotonic()
        barrier.wait()
        returned[n] = time.monotonic()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(32):
        assert any(arrived[n] <= start and end <= returned[n] for start, end in syncs.spans), (
            f"writer {n} returned without a sync that began after it arrived"
        )
    # Group commit: 32 writers over about 0.1 s, 20 ms a sync, shared far fewer syncs.
    assert barrier.rounds == len(syncs.spans) < 16


def test_a_lone_writer_gets_a_sync_of_its_own(tmp_path: Path, syncs: SlowSyncs) -> None:
    barrier = WalBarrier(_wal(tmp_path))
    barrier.wait()
    barrier.wait()
    assert len(syncs.spans) == 2


def test_a_failed_sync_fails_its_round_and_every_later_one(
    tmp_path: Path, syncs: SlowSyncs
) -> None:
    barrier = WalBarrier(_wal(tmp_path))
    barrier.wait()
    syncs.fail = True
    with pytest.raises(DurabilityLost):
        barrier.wait()
    syncs.fail = False  # a later fsync may succeed without the pages the failed one lost
    with pytest.raises(DurabilityLost):
        barrier.wait()


def test_without_a_wal_there_is_nothing_to_sync(tmp_path: Path, syncs: SlowSyncs) -> None:
    barrier = WalBarrier(tmp_path / "db.sqlite3")
    barrier.wait()
    assert syncs.spans == []


def test_a_replaced_wal_is_opened_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = _wal(tmp_path)
    synced: list[int] = []
    monkeypatch.setattr(durability.os, "fdatasync", lambda fd: synced.append(os.fstat(fd).st_ino))
    barrier = WalBarrier(database)
    barrier.wait()
    wal = Path(f"{database}-wal")
    wal.unlink()  # SQLite deletes the WAL after a checkpoint, and makes a new one
    wal.write_bytes(b"new frames")
    barrier.wait()
    assert synced[1] == wal.stat().st_ino
    barrier.close()


def test_a_write_waits_for_durability_after_its_commit_with_the_lock_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the writer waits on the barrier, another connection can already write: the sync
    does not hold SQLite's write lock, which is what lets commits pile up for one sync."""
    engine = create_sqlite_engine(tmp_path / "db.sqlite3")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    store = MetadataStore(engine)
    seen: list[tuple[str, int]] = []

    def during_the_wait(fd: int) -> None:
        other = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        with other.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # fails if the lock were held
            count = connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
            connection.exec_driver_sql("ROLLBACK")
        other.dispose()
        seen.append(("synced with the commit visible", int(count)))

    monkeypatch.setattr(durability.os, "fdatasync", during_the_wait)
    with store.write() as tx:
        tx._db.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert seen == []  # nothing synced before the commit
    assert seen == [("synced with the commit visible", 1)]
    store.dispose()
    engine.dispose()


def test_a_failed_transaction_waits_for_nothing(tmp_path: Path, syncs: SlowSyncs) -> None:
    engine = create_sqlite_engine(tmp_path / "db.sqlite3")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    store = MetadataStore(engine)
    with store.write() as tx:
        tx._db.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert len(syncs.spans) == 1
    with pytest.raises(RuntimeError), store.write() as tx:
        tx._db.exec_driver_sql("INSERT INTO t VALUES (2)")
        raise RuntimeError("refused")
    assert len(syncs.spans) == 1
    store.dispose()
    engine.dispose()
