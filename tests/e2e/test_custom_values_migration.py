"""Migration 0011 fills version_custom_values from the versions already there (in batches of
ids, so a library larger than one batch), on the configured backend (SQLite, or PostgreSQL
when the MEDIAVAULT_TEST_* variables are set); and down again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from mediavault.config import Settings
from mediavault.storage.database import MIGRATIONS, create_engine, migrate
from mediavault.storage.tables import blobs, files, versions
from tests.backends import backend_env
from tests.e2e.test_search_custom_values import derived_rows, rows_of_library

FILES = 6_000  # two versions each: more than two batches of the migration's 5,000
DOCUMENTS: list[Any] = [
    {"brand": "acme", "price": 5, "on": True},
    {"brand": "x" * 2000, "colors": ["red", "blue"], "nested": {"a": 1}},
    {"price": 2.5, "big": 2**60, "gone": None, "weird key": "w"},
    {},
    None,
]


def _upgrade_to(engine: sa.Engine, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)


def _downgrade_to(engine: sa.Engine, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, target)


def test_0011_fills_the_rows_of_existing_versions(tmp_path: Path) -> None:
    url = Settings.from_env(backend_env(), data=tmp_path).resolved_database_url
    engine = create_engine(url)
    try:
        _upgrade_to(engine, "0010")
        with engine.begin() as db:
            db.execute(sa.insert(blobs).values(digest="0" * 64, size=1, created_at=1))
            db.execute(
                sa.insert(files),
                [
                    {"id": f"f{n:023d}", "name": f"{n}.jpg", "folder_path": "/",
                     "file_path": f"/{n}.jpg", "last_version_number": 2, "created_at": n,
                     "updated_at": n}
                    for n in range(FILES)
                ],
            )  # fmt: skip
            db.execute(
                sa.insert(versions),
                [
                    {"id": f"v{number}{n:022d}", "file_id": f"f{n:023d}", "number": number,
                     "blob_digest": "0" * 64, "size": 1, "mime": "image/png",
                     "file_type": "image",
                     "custom_metadata": DOCUMENTS[(n + number) % len(DOCUMENTS)],
                     "is_private_file": False, "is_published": True,
                     "token": f"t{number}{n:030d}", "is_current": number == 2,
                     "created_at": n, "updated_at": n}
                    for n in range(FILES)
                    for number in (1, 2)
                ],
            )  # fmt: skip
        migrate(engine)
        filled = rows_of_library(engine)
        assert filled == derived_rows(engine)
        assert len(filled) == 2 * FILES // len(DOCUMENTS) * 8  # 8 rows per cycle of documents
        first = {row[1:] for row in filled if row[0] == f"v1{0:022d}"}
        assert first == {  # (n + number) % 5 == 1
            ("brand", "x", None, None),
            ("colors", "x", None, None),
            ("nested", "x", None, None),
        }
        acme = {row[1:] for row in filled if row[0] == f"v1{4:022d}"}
        assert acme == {
            ("brand", "s", "acme", None),
            ("price", "n", None, 5.0),
            ("on", "b", None, 1.0),
        }
        _downgrade_to(engine, "0010")
        with engine.connect() as db:
            assert not sa.inspect(db).has_table("version_custom_values")
    finally:
        engine.dispose()
