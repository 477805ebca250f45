"""Engines: SQLite tuned for many processes (WAL, busy timeout, BEGIN IMMEDIATE), and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


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

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN, instead of sqlite3's implicit one.
        dbapi_connection.isolation_level = None
        for pragma in (
            "journal_mode=WAL",
            # FULL: a commit is on disk before the request is acknowledged (NORMAL may lose the
            # last commits on power loss).
            "synchronous=FULL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a writer gets
        # SQLITE_BUSY at once, without waiting for busy_timeout.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def reader(engine: sa.Engine) -> sa.Engine:
    """The same pool, for read-only work: on SQLite it does not take the write lock."""
    return engine.execution_options(sqlite_begin="DEFERRED")


def single_statement_reader(engine: sa.Engine) -> sa.Engine:
    """The same pool, for reads of one statement each: no BEGIN, no COMMIT (PostgreSQL; SQLite
    lookups run on raw connections, see mediavault.storage.lookups)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Hosts starting together take turns; the lock ends with the transaction.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7405213)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
