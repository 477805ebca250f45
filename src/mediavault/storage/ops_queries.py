"""SQL for operations: is the database there, is its schema current, how much work waits."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from mediavault.storage.tables import trashed_files, webhook_outbox


def probe_database(engine: sa.Engine) -> None:
    """Raise unless the database answers a query that reads its schema.

    SQLite: a connection opened for the probe alone (read-write, never created), since a pooled
    one keeps reading a file that has since gone or become unreadable. PostgreSQL: the pool's
    own connections, checked on checkout (pre-ping), so a lost server fails here too.
    """
    if engine.dialect.name == "sqlite":
        import sqlite3

        path = Path(engine.url.database or "")
        probe = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=1)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1").scalar()


def schema_revisions(engine: sa.Engine) -> tuple[str | None, str | None]:
    """(the database's migration, the newest migration this release knows)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from mediavault.storage.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head


def webhook_backlog(engine: sa.Engine) -> int:
    """Events not yet delivered nor given up."""
    query = sa.select(sa.func.count()).where(
        webhook_outbox.c.delivered_at.is_(None), webhook_outbox.c.failed_at.is_(None)
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def trash_backlog(engine: sa.Engine, deleted_before: int) -> tuple[int, int]:
    """(files in the trash, those of them due for purging)."""
    due = sa.func.count().filter(trashed_files.c.deleted_at < deleted_before)
    with engine.connect() as connection:
        row = connection.execute(sa.select(sa.func.count(), due)).one()
    return int(row[0]), int(row[1])
