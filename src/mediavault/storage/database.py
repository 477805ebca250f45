"""Engines: SQLite tuned for many processes (WAL, busy timeout, BEGIN IMMEDIATE, group commit),
and migrations."""

from __future__ import annotations

import collections
import sqlite3
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler

from mediavault.storage.durability import CommitBarrier, WalBarrier

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30
# Reads map the database file instead of copying each page into the connection's own page
# cache (2 MB by default, per connection): a search that walks thousands of files and looks up
# each one's version reads pages from all over the file, and each copy cost more than the
# lookup (bench/search_100k.py: tags, custom metadata and a folder of 1,000 files took a
# quarter to two fifths less CPU). The mapping is of the file, shared with the kernel's page
# cache: only the pages a process touches count in its RSS, and a larger cache_size would
# instead hold a private copy per connection (40 of them). Writes still go through the WAL.
MMAP_PRAGMA = "mmap_size=268435456"


def create_engine(url: str) -> sa.Engine:
    """The engine for a SQLAlchemy URL: SQLite (the embedded default) or PostgreSQL."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database:
            raise ValueError("a SQLite database URL needs a file path: sqlite:////path/to/db")
        return create_sqlite_engine(Path(parsed.database))
    if parsed.get_backend_name() == "postgresql":
        # Row locks (SELECT ... FOR UPDATE) serialize writers per file across every worker
        # on every host; READ COMMITTED then shows each writer the rows it waited for.
        return sa.create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_size=8,
            max_overflow=32,
            pool_timeout=60,
            pool_pre_ping=True,
        )
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)}")


def create_sqlite_engine(path: Path) -> sa.Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    # As many connections as anyio runs threads (40): a connection beyond the pool's size would
    # be closed when returned and opened again for the next request, schema parse included.
    engine = sa.create_engine(f"sqlite:///{path}", pool_size=40, max_overflow=0, pool_timeout=60)
    engine.dialect.statement_compiler = _HintingSQLiteCompiler

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN, instead of sqlite3's implicit one.
        dbapi_connection.isolation_level = None
        for pragma in (
            "journal_mode=WAL",
            # NORMAL: a commit does not sync the WAL, so the write lock is released without
            # waiting for the disk. Every commit is then made durable before its writer goes
            # on by the engine's commit barrier (one fdatasync of the WAL for every commit
            # before it: mediavault.storage.durability), which MetadataStore.write waits on:
            # FULL's promise, at one fsync for many writers instead of one each.
            "synchronous=NORMAL",
            f"busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}",
            # The savepoints of a shared write transaction (shared_writes.py) journal the pages
            # they change: in memory, not in a file of /var/tmp past 64 KiB (nothing is written
            # outside the data folder). SQLite's other temporary data (sorts and groupings no
            # index serves) is kept in memory too.
            "temp_store=MEMORY",
            "foreign_keys=ON",
            MMAP_PRAGMA,
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a writer gets
        # SQLITE_BUSY at once, without waiting for busy_timeout.
        # On the sqlite3 connection itself: through exec_driver_sql, SQLAlchemy's execution
        # machinery cost a small upload more than the statement (bench/profile_writes.py).
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        begin = _BEGIN[mode]
        driver = connection.connection.driver_connection
        assert driver is not None
        try:
            driver.execute(begin)
        except sqlite3.Error as exc:  # as SQLAlchemy raises it: the store maps it to a conflict
            raise sa.exc.DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc

    return engine


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE")}


class _HintingSQLiteCompiler(SQLiteCompiler):
    """SQLite's statement compiler, also writing a table's hint after its name in FROM
    (`Select.with_hint(table, "INDEXED BY ...", "sqlite")`), which SQLAlchemy's leaves out:
    a search names the index its planner would not pick (mediavault.storage.search_plan)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def commit_barrier(engine: sa.Engine) -> CommitBarrier:
    """What a writer waits on after its commit, before it goes on: on SQLite a sync of the
    WAL (group commit); PostgreSQL's commit is durable when it returns (and groups its own
    WAL flushes)."""
    if engine.dialect.name == "sqlite":
        return WalBarrier(Path(engine.url.database or ""))
    return CommitBarrier()


class HandOffLock:
    """A lock taken in the order it was asked for: release hands it to the longest waiter.

    threading.Lock lets a thread that asks for it just as it is released take it before the
    threads already waiting, and with the GIL that thread is usually the one running: under 16
    writers some uploads lost their turn again and again (the tail of bench/writes.py).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: collections.deque[threading.Lock] = collections.deque()

    def acquire(self, timeout: float = -1) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release: the lock stayed held, now for this thread
        with self._mutex:
            try:
                self._waiters.remove(turn)
            except ValueError:
                return True  # handed over between the timeout and now: this thread holds it
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held: by the next in line
            else:
                self._held = False

    def pass_on(self) -> bool:
        """Hand the lock to the longest waiter, if there is one (True); else keep holding it."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
                return True
            return False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def reader(engine: sa.Engine) -> sa.Engine:
    """The same pool, for read-only work: on SQLite it does not take the write lock."""
    return engine.execution_options(sqlite_begin="DEFERRED")


def single_statement_reader(engine: sa.Engine) -> sa.Engine:
    """The same pool, for reads of one statement each: no BEGIN, no COMMIT (PostgreSQL; SQLite
    lookups run on raw connections, see mediavault.storage.lookups)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration."""
    # Here, not at the top: workers never migrate, and Alembic (with Mako) is 8 MB of each.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Hosts starting together take turns; the lock ends with the transaction.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7405213)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    barrier = commit_barrier(engine)  # the new schema is on disk before anything uses it
    try:
        barrier.wait()
    finally:
        barrier.close()
