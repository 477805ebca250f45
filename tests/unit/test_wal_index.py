"""The revision checks are answered from memory until a commit, from any connection or process,
and run their statement again after it (storage/wal_index.py). Real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediavault.config import Settings
from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata
from mediavault.services.stores import Stores
from mediavault.storage.database import migrate
from mediavault.storage.lookups import SqliteLookups
from mediavault.storage.wal_index import UnchangedMemo, WalIndexHeader
from mediavault.wiring import build_stores

FILE = File("f" * 24, "a.jpg", "/", 1, 1_700_000_000_000, 1_700_000_000_000)
VERSION = Version(
    "1" * 24, FILE.id, 1, ContentInfo("a" * 64, 3, "text/plain", "non-image"),
    VersionMetadata(), "t" * 32, True, 1_700_000_000_000, 1_700_000_000_000,
)  # fmt: skip


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    """The embedded default, whatever backend the suite runs: the memo is SQLite's."""
    built = build_stores(Settings.from_env({}, data=tmp_path))
    migrate(built.meta.engine)
    with built.meta.write() as tx:
        tx.claim_blob("a" * 64, 3, 1)
        tx.insert_file(FILE)
        tx.insert_version(VERSION)
    yield built
    built.close()


def database_of(stores: Stores) -> Path:
    database = stores.meta.engine.url.database
    assert database is not None
    return Path(database)


def statements_of(lookups: SqliteLookups) -> list[str]:
    """The statements the calling thread's lookup connection runs from now on."""
    lookups.lookups()
    seen: list[str] = []
    lookups._local.cursor.connection.set_trace_callback(seen.append)
    return seen


def touch_in_another_process(database: Path, sql: str) -> None:
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA busy_timeout=30000')\n"
        "c.execute(sys.argv[2])\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(database), sql], check=True)


def test_a_revision_is_read_once_until_a_commit_from_another_process(stores: Stores) -> None:
    lookups = SqliteLookups(database_of(stores), stores.meta.engine.dialect)
    seen = statements_of(lookups)
    first = lookups.lookups().revision(FILE.id)
    assert first is not None
    for _ in range(5):
        assert lookups.lookups().revision(FILE.id) == first
        assert lookups.lookups().revision_at_path(FILE.file_path) == first
    assert len(seen) == 2  # one per statement, then from memory

    # A change made by another process, through no code of ours: only SQLite's triggers see it.
    touch_in_another_process(
        database_of(stores), f"UPDATE files SET name = 'b.jpg' WHERE id = '{FILE.id}'"
    )
    second = lookups.lookups().revision(FILE.id)
    assert second is not None and second > first
    assert len(seen) == 3


def test_a_commit_in_this_process_is_seen_by_the_next_check(stores: Stores) -> None:
    """Read after write: the upload's own worker answers with the new revision at once."""
    with stores.meta.lookups() as lookups:
        before = lookups.revision(FILE.id)
    with stores.meta.write() as tx:
        tx.insert_version(
            Version(
                "2" * 24, FILE.id, 2, ContentInfo("a" * 64, 3, "text/plain", "non-image"),
                VersionMetadata(), "u" * 32, False, 1_700_000_000_001, 1_700_000_000_001,
            )
        )  # fmt: skip
    with stores.meta.lookups() as lookups:
        after = lookups.revision(FILE.id)
    assert before is not None and after is not None and after > before


def test_a_file_that_appears_is_found_after_the_commit(stores: Stores) -> None:
    lookups = SqliteLookups(database_of(stores), stores.meta.engine.dialect)
    assert lookups.lookups().revision("e" * 24) is None
    assert lookups.lookups().revision("e" * 24) is None  # kept: still no such file
    with stores.meta.write() as tx:
        tx.insert_file(File("e" * 24, "e.jpg", "/", 0, 1, 1))
    assert lookups.lookups().revision("e" * 24) is not None


def test_a_checkpoint_by_another_process_changes_nothing_it_answers(stores: Stores) -> None:
    lookups = SqliteLookups(database_of(stores), stores.meta.engine.dialect)
    first = lookups.lookups().revision(FILE.id)
    touch_in_another_process(database_of(stores), "PRAGMA wal_checkpoint(TRUNCATE)")
    assert lookups.lookups().revision(FILE.id) == first
    touch_in_another_process(database_of(stores), f"DELETE FROM files WHERE id = '{FILE.id}'")
    assert lookups.lookups().revision(FILE.id) is None


def test_without_wal_mode_every_check_runs_its_statement(tmp_path: Path) -> None:
    database = tmp_path / "rollback.sqlite3"
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("CREATE TABLE files (id TEXT PRIMARY KEY, file_path TEXT, revision INT)")
    connection.execute("INSERT INTO files VALUES ('x', '/x', 1)")
    lookups = SqliteLookups(database, sa.create_engine("sqlite://").dialect)
    seen = statements_of(lookups)
    assert lookups._local.memo is None
    assert lookups.lookups().revision("x") == 1
    connection.execute("UPDATE files SET revision = 2")
    assert lookups.lookups().revision("x") == 2
    assert len(seen) == 2


def header_file(tmp_path: Path, first: bytes, second: bytes) -> Path:
    database = tmp_path / "made.sqlite3"
    Path(f"{database}-shm").write_bytes(first + second + bytes(40))
    return database


def built_header(counter: int) -> bytes:
    header = bytearray(48)
    header[8] = counter  # iChange
    header[12] = 1  # isInit
    return bytes(header)


def opened(database: Path) -> WalIndexHeader:
    header = WalIndexHeader.open(database)
    assert header is not None
    return header


def test_a_header_being_written_or_not_built_is_a_change(tmp_path: Path) -> None:
    torn = WalIndexHeader.open(header_file(tmp_path, built_header(1), built_header(2)))
    assert torn is not None and torn.state() is None
    unbuilt = bytes(48)
    assert opened(header_file(tmp_path, unbuilt, unbuilt)).state() is None
    whole = opened(header_file(tmp_path, built_header(3), built_header(3)))
    assert whole.state() == built_header(3)


def test_a_missing_or_short_shm_file_gives_no_header_until_sqlite_builds_it(tmp_path: Path) -> None:
    assert WalIndexHeader.open(tmp_path / "none.sqlite3") is None
    short = Path(f"{tmp_path / 'short.sqlite3'}-shm")
    short.write_bytes(bytes(10))
    assert WalIndexHeader.open(tmp_path / "short.sqlite3") is None
    short.write_bytes(built_header(4) * 2 + bytes(40))  # the same file, built since
    grown = WalIndexHeader.open(tmp_path / "short.sqlite3")
    assert grown is not None and grown.state() == built_header(4)


def test_the_memo_computes_again_while_the_header_is_unreadable(tmp_path: Path) -> None:
    database = header_file(tmp_path, built_header(1), built_header(2))
    memo = UnchangedMemo(opened(database))
    calls: list[int] = []
    for n in range(3):
        assert memo.get("k", lambda n=n: calls.append(n) or n) == n
    assert calls == [0, 1, 2]


def test_the_memo_keeps_at_most_its_limit(tmp_path: Path) -> None:
    database = header_file(tmp_path, built_header(1), built_header(1))
    memo = UnchangedMemo(opened(database), limit=2)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    for key in ["a", "b", "c", "a", "b", "c"]:
        assert memo.get(key, lambda key=key: compute(key)) == key.upper()
    assert calls == ["a", "b", "c", "c"]  # "c" came past the limit: not kept


def test_a_database_reached_by_a_symbolic_link_maps_the_header_sqlite_writes(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real" / "db.sqlite3"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite3"
    link.symlink_to(real)
    writer = sqlite3.connect(link, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE files (id TEXT PRIMARY KEY, file_path TEXT, revision INT)")
    writer.execute("INSERT INTO files VALUES ('x', '/x', 1)")
    lookups = SqliteLookups(link, sa.create_engine("sqlite://").dialect)
    assert lookups.lookups().revision("x") == 1
    assert lookups._local.memo is not None
    writer.execute("UPDATE files SET revision = 2")
    assert lookups.lookups().revision("x") == 2


def test_opening_headers_keeps_the_locks_sqlite_holds_in_this_process(tmp_path: Path) -> None:
    """POSIX locks are per process and file: closing any descriptor of the -shm file would
    drop SQLite's. A reader's mark must still hold back another process's checkpoint from
    resetting the WAL under it, however many headers this process opens and drops."""
    import gc

    database = tmp_path / "locks.sqlite3"
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = sqlite3.connect(database, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)

    def checkpoint_elsewhere() -> tuple[int, int, int]:
        script = (
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)\n"
            "c.execute('INSERT INTO t VALUES (2)')\n"
            "print(*c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone())\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(database)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        busy, frames, copied = map(int, done.stdout.split())
        return busy, frames, copied

    assert checkpoint_elsewhere()[0] == 1  # held back by the reader, as it must be
    for _ in range(3):
        header = WalIndexHeader.open(database)
        assert header is not None and header.state() is not None
        del header
        gc.collect()
        assert checkpoint_elsewhere()[0] == 1
    lookups = SqliteLookups(database, sa.create_engine("sqlite://").dialect)
    lookups.lookups()  # a reading thread's connection and its memo, as a server makes them
    assert lookups._local.memo is not None
    assert checkpoint_elsewhere()[0] == 1
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)  # its snapshot
    reader.execute("COMMIT")
    assert checkpoint_elsewhere()[0] == 0  # and nothing holds it back once the reader is done
