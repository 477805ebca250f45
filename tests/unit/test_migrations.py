"""Migrations upgrade a database that already holds data, not just an empty one."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from mediavault.storage.database import MIGRATIONS, create_sqlite_engine, migrate


def test_0002_backfills_folders_and_tag_rows(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "db.sqlite3")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO files VALUES ('a' || hex(zeroblob(11)) || 'a', 'x.jpg', '/p/q/', "
            "'/p/q/x.jpg', 1, 1, 1)"
        )
        connection.exec_driver_sql("INSERT INTO blobs VALUES ('" + "0" * 64 + "', 1, 1)")
        file_id = connection.exec_driver_sql("SELECT id FROM files").scalar_one()
        connection.exec_driver_sql(
            "INSERT INTO versions (id, file_id, number, blob_digest, size, mime, file_type, tags, "
            "ai_tags, is_private_file, is_published, token, is_current, created_at, updated_at) "
            f"VALUES ('{file_id}', '{file_id}', 1, '{'0' * 64}', 1, 'image/jpeg', 'image', "
            """'["red", "blue"]', '[{"name": "cat", "confidence": 90, "source": "x"}]', """
            f"0, 1, '{'t' * 32}', 1, 1, 1)"
        )
    migrate(engine)
    with engine.connect() as connection:
        folders = connection.execute(
            sa.text("SELECT folder_path, name, parent_path FROM folders ORDER BY folder_path")
        ).all()
        tags = connection.execute(
            sa.text("SELECT source, tag FROM version_tags ORDER BY source, tag")
        ).all()
    assert [tuple(f) for f in folders] == [("/p/", "p", "/"), ("/p/q/", "q", "/p/")]
    assert [tuple(t) for t in tags] == [("ai", "cat"), ("user", "blue"), ("user", "red")]
