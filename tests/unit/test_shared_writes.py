"""Writers of one process sharing a SQLite transaction (storage/shared_writes.py): each block
takes effect entirely or not at all, a writer returns only once its changes are committed and
durable, and a failed COMMIT fails every writer of its batch. On a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediavault.storage import shared_writes
from mediavault.storage.database import create_sqlite_engine
from mediavault.storage.durability import CommitBarrier
from mediavault.storage.shared_writes import MAX_WRITERS, SharedWrites


class CountingBarrier(CommitBarrier):
    def __init__(self) -> None:
        self.waits = 0

    def wait(self) -> None:
        self.waits += 1


@pytest.fixture
def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[sa.Engine, SharedWrites, CountingBarrier]]:
    # A batch's age does not end it here, however slowly a loaded machine runs the threads.
    monkeypatch.setattr(shared_writes, "MAX_SECONDS", 60.0)
    path = tmp_path / "shared.sqlite3"
    engine = create_sqlite_engine(path)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql(
            "CREATE TABLE rows (name TEXT PRIMARY KEY, parent INTEGER REFERENCES parents (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
    barrier = CountingBarrier()
    writes = SharedWrites(engine, path, barrier)
    yield engine, writes, barrier
    writes.close()
    engine.dispose()


def _names(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.exec_driver_sql("SELECT name FROM rows")}


def _insert(name: str, parent: int | None = None) -> Callable[[sa.Connection], None]:
    def run(connection: sa.Connection) -> None:
        connection.exec_driver_sql("INSERT INTO rows VALUES (?, ?)", (name, parent))

    return run


class Writers:
    """Writers started one after the other while a first one holds the turn, so that they
    queue behind it and join its batch."""

    def __init__(self, writes: SharedWrites) -> None:
        self._writes = writes
        self.outcomes: dict[str, BaseException | None] = {}
        self._threads: list[threading.Thread] = []

    def start(self, name: str, block: Callable[[sa.Connection], None]) -> None:
        def run() -> None:
            try:
                with self._writes.transaction() as connection:
                    block(connection)
            except BaseException as exc:
                self.outcomes[name] = exc
            else:
                self.outcomes[name] = None

        thread = threading.Thread(target=run)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a writer never came back"


def _queue_behind_a_holder(
    writes: SharedWrites, blocks: dict[str, Callable[[sa.Connection], None]]
) -> Writers:
    """The first block holds the turn until every other writer waits for it."""
    release = threading.Event()
    writers = Writers(writes)
    first, *others = blocks.items()

    def holding(connection: sa.Connection) -> None:
        assert release.wait(10)
        first[1](connection)

    writers.start(first[0], holding)
    for count, (name, block) in enumerate(others, start=1):
        writers.start(name, block)
        deadline = time.monotonic() + 10
        while len(writes._turns._waiters) < count:
            assert time.monotonic() < deadline, "the writers never queued"
            time.sleep(0.001)
    release.set()
    writers.join()
    return writers


def test_writers_waiting_for_the_turn_share_one_commit_and_one_sync(database) -> None:
    engine, writes, barrier = database
    blocks = {f"w{n}": _insert(f"w{n}") for n in range(6)}
    writers = _queue_behind_a_holder(writes, blocks)
    assert writers.outcomes == dict.fromkeys(blocks)
    assert _names(engine) == set(blocks)
    assert writes.batches == 1 and barrier.waits == 1


def test_a_block_that_raises_takes_nothing_with_it_and_leaves_the_others(database) -> None:
    engine, writes, _barrier = database

    def failing(connection: sa.Connection) -> None:
        connection.exec_driver_sql("INSERT INTO rows VALUES ('bad', NULL)")
        raise ValueError("refused")

    def duplicate(connection: sa.Connection) -> None:
        connection.exec_driver_sql("INSERT INTO rows VALUES ('dup-a', NULL)")
        connection.exec_driver_sql("INSERT INTO rows VALUES ('w0', NULL)")  # w0's name

    blocks = {"w0": _insert("w0"), "bad": failing, "w2": _insert("w2"), "dup": duplicate}
    writers = _queue_behind_a_holder(writes, blocks)
    assert isinstance(writers.outcomes["bad"], ValueError)
    assert isinstance(writers.outcomes["dup"], sa.exc.IntegrityError)
    assert writers.outcomes["w0"] is None and writers.outcomes["w2"] is None
    assert _names(engine) == {"w0", "w2"}  # neither 'bad' nor 'dup-a'
    assert writes.batches == 1


def test_when_the_first_block_raises_the_waiting_writers_begin_a_batch_of_their_own(
    database,
) -> None:
    """The first block of a batch runs without a savepoint: when it fails, its transaction is
    rolled back whole, and no one may have joined it."""
    engine, writes, barrier = database

    def failing(connection: sa.Connection) -> None:
        connection.exec_driver_sql("INSERT INTO rows VALUES ('first', NULL)")
        raise ValueError("refused")

    blocks = {"first": failing, "w1": _insert("w1"), "w2": _insert("w2")}
    writers = _queue_behind_a_holder(writes, blocks)
    assert isinstance(writers.outcomes["first"], ValueError)
    assert writers.outcomes["w1"] is None and writers.outcomes["w2"] is None
    assert _names(engine) == {"w1", "w2"}
    assert writes.batches == 2 and barrier.waits == 1  # the rolled-back one synced nothing


def test_a_failed_commit_fails_every_writer_of_its_batch(database) -> None:
    engine, writes, _ = database
    # The deferred foreign key is checked by COMMIT: the batch's commit fails, for all.
    blocks = {"w0": _insert("w0"), "orphan": _insert("orphan", parent=42), "w2": _insert("w2")}
    writers = _queue_behind_a_holder(writes, blocks)
    assert all(isinstance(e, sa.exc.IntegrityError) for e in writers.outcomes.values())
    assert len({id(e) for e in writers.outcomes.values()}) == 3  # each its own exception
    assert _names(engine) == set()
    # The turn was given back: the next writer commits on its own.
    with writes.transaction() as connection:
        _insert("after")(connection)
    assert _names(engine) == {"after"}


def test_a_batch_that_only_failed_commits_nothing_and_syncs_nothing(database) -> None:
    engine, writes, barrier = database
    with pytest.raises(ValueError), writes.transaction() as connection:
        _insert("x")(connection)
        raise ValueError("refused")
    assert _names(engine) == set() and barrier.waits == 0


def test_a_write_inside_another_on_the_same_thread_is_refused(database) -> None:
    engine, writes, _ = database
    with writes.transaction() as connection:
        _insert("outer")(connection)
        with pytest.raises(RuntimeError, match="inside another"), writes.transaction():
            pass
    assert _names(engine) == {"outer"}


def test_a_batch_ends_at_max_writers(database) -> None:
    engine, writes, _ = database
    blocks = {f"w{n}": _insert(f"w{n}") for n in range(MAX_WRITERS + 3)}
    writers = _queue_behind_a_holder(writes, blocks)
    assert writers.outcomes == dict.fromkeys(blocks)
    assert _names(engine) == set(blocks)
    assert writes.batches == 2


def test_a_batch_ends_when_it_is_max_seconds_old(database, monkeypatch) -> None:
    engine, writes, _ = database
    monkeypatch.setattr(shared_writes, "MAX_SECONDS", 0.0)
    blocks = {f"w{n}": _insert(f"w{n}") for n in range(4)}
    writers = _queue_behind_a_holder(writes, blocks)
    assert writers.outcomes == dict.fromkeys(blocks)
    assert _names(engine) == set(blocks)
    assert writes.batches == 4  # each its own commit, as without sharing


def test_writers_return_only_after_their_commit(database) -> None:
    """What a writer wrote is visible to another connection as soon as its block returns."""
    engine, writes, _ = database
    seen: list[bool] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for k in range(25):
            name = f"t{n}-{k}"
            with writes.transaction() as connection:
                _insert(name)(connection)
            with lock:
                seen.append(name in _names(engine))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == 150 and all(seen)
    assert len(_names(engine)) == 150
