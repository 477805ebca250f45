"""The migrations build exactly the schema that storage/tables.py declares."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mediavault.storage import database, tables


def test_migrations_build_the_declared_schema(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'library.db'}")
    try:
        database.migrate(engine)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), tables.metadata)
    finally:
        engine.dispose()
    # Not declared: SQLite's revision clock, a row that only the triggers of migration 0010
    # read and write (PostgreSQL's is a sequence).
    differences = [
        d for d in differences if not (d[0] == "remove_table" and d[1].name == "revision_clock")
    ]
    assert differences == []
