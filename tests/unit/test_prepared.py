"""Prepared statements on SQLite (storage/prepared.py) against SQLAlchemy's own execution.

The write paths run their statements built once on the raw sqlite3 connection; what they store
and what they read back must be exactly what SQLAlchemy's Connection stores and reads for the
same statement and values: the same bytes in every column (JSON text, booleans as integers,
NULLs) and the same row values, and SQLite's errors must reach the store as SQLAlchemy's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mediavault.config import Settings
from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata
from mediavault.errors import WriteConflict
from mediavault.services.stores import Stores
from mediavault.storage import metadata
from mediavault.storage.blob_queries import _LOCKED_STATE
from mediavault.storage.database import migrate
from mediavault.storage.prepared import (
    OnSqliteConnection,
    Prepared,
    ThroughConnection,
    statements_for,
)
from mediavault.storage.tables import files, version_tags, versions
from mediavault.wiring import build_stores

FILE = File("f" * 24, "a.jpg", "/", 2, 1_700_000_000_000, 1_700_000_000_001)
ODD = VersionMetadata(
    tags=["t1", "t2"],
    ai_tags=[{"name": "cat", "confidence": 97.5, "source": "google-auto-tagging"}],
    custom_metadata={"price": 1.5, "brand": "x", "nested": {"k": [1, None]}, "u": "é"},
    custom_coordinates="1,2,3,4",
    description='a "quoted" description',
    is_private_file=True,
    is_published=False,
)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    built = build_stores(Settings(data=tmp_path / "data"))  # SQLite: the prepared path
    migrate(built.meta.engine)
    yield built
    built.close()


def _version(version_id: str, number: int, meta: VersionMetadata, current: bool) -> Version:
    content = ContentInfo("a" * 64, 10, "image/png", "image", 4, 3, True, {"exif": {"x": 1}})
    return Version(version_id, FILE.id, number, content, meta, f"{number}" * 32, current, 5, 6)


def _stored(stores: Stores, table: str, key: str, value: str) -> dict[str, Any]:
    """A row as SQLite holds it: the values sqlite3 reads with no conversion at all."""
    database = stores.meta.engine.url.database
    assert database
    with sqlite3.connect(database) as raw:
        cursor = raw.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,))
        row = cursor.fetchone()
        assert row is not None
        return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def test_a_row_written_prepared_is_stored_as_sqlalchemy_stores_it(stores: Stores) -> None:
    with stores.meta.write() as tx:
        tx.claim_blob("a" * 64, 10, 1)
        tx.insert_file(FILE)
        assert isinstance(tx._sql, OnSqliteConnection)
        tx.insert_version(_version("1" * 24, 1, ODD, False))  # prepared
        tx._sql = ThroughConnection(tx._db)  # the same method through SQLAlchemy
        tx.insert_version(_version("2" * 24, 2, ODD, True))
        tx.insert_version(_version("3" * 24, 3, VersionMetadata(), False))
        tx._sql = statements_for(tx._db)
        tx.insert_version(_version("4" * 24, 4, VersionMetadata(), False))
    prepared, through = (_stored(stores, "versions", "id", n * 24) for n in "12")
    assert prepared.keys() == through.keys() == {c.name for c in versions.c}
    differing = {name for name in prepared if prepared[name] != through[name]}
    # Only what identifies the row differs; JSON text, booleans and NULLs are the same bytes.
    assert differing == {"id", "number", "token", "is_current"}
    assert prepared["custom_metadata"] == through["custom_metadata"]
    assert prepared["is_private_file"] == 1 and prepared["is_published"] == 0
    empty_prepared, empty_through = (_stored(stores, "versions", "id", n * 24) for n in "43")
    assert {k for k in empty_prepared if empty_prepared[k] != empty_through[k]} == {
        "id",
        "number",
        "token",
    }
    assert empty_prepared["custom_coordinates"] is None


def test_prepared_reads_return_sqlalchemys_rows(stores: Stores) -> None:
    with stores.meta.write() as tx:
        tx.claim_blob("a" * 64, 10, 1)
        tx.insert_file(FILE)
        tx.insert_version(_version("1" * 24, 1, ODD, True))
    cases: list[tuple[Any, dict[str, Any]]] = [
        (metadata._FILE_BY_PATH_LOCKED, {"b_file_path": FILE.file_path}),
        (metadata._CURRENT_VERSION, {"b_file_id": FILE.id}),
        (metadata._COUNT_VERSIONS, {"b_file_id": FILE.id}),
        (metadata._LIVE_FIELDS, {}),
        (_LOCKED_STATE, {"b_digest": "a" * 64}),
    ]
    with stores.meta.read() as tx:
        fast, slow = statements_for(tx._db), ThroughConnection(tx._db)
        assert isinstance(fast, OnSqliteConnection)
        for statement, params in cases:
            expected = slow.execute(statement, params).all()
            got = fast.execute(statement, params).all()
            assert [tuple(row) for row in got] == [tuple(row) for row in expected], statement
            for mine, theirs in zip(got, expected, strict=True):
                assert mine._mapping == dict(theirs._mapping)
        row = fast.execute(metadata._CURRENT_VERSION, {"b_file_id": FILE.id}).first()
        assert row.custom_metadata == ODD.custom_metadata  # JSON decoded
        assert row.is_private_file is True and row.is_current is True
        missing = fast.execute(metadata._FILE_BY_PATH, {"b_file_path": "/nope"})
        assert missing.first() is None and missing.scalar() is None


def test_returning_and_many_rows(stores: Stores) -> None:
    with stores.meta.write() as tx:
        tx.claim_blob("a" * 64, 10, 1)
        tx.insert_file(FILE)
        tx.insert_version(_version("1" * 24, 1, ODD, True))
        demoted = tx._sql.execute(
            metadata._DEMOTE_CURRENT, {"b_file_id": FILE.id, "b_updated_at": 9}
        )
        assert demoted.scalars() == [10]
        again = tx._sql.execute(metadata._DEMOTE_CURRENT, {"b_file_id": FILE.id, "b_updated_at": 9})
        assert again.all() == []
    with stores.meta.read() as tx:
        tags = tx._db.execute(
            sa.select(version_tags.c.tag).where(version_tags.c.version_id == "1" * 24)
        )
        assert sorted(tags.scalars()) == ["cat", "t1", "t2"]  # by executemany, AI tags too
        row = tx._db.execute(sa.select(versions).where(versions.c.id == "1" * 24)).one()
        assert (row.is_current, row.updated_at) == (False, 9)


def test_sqlite_errors_reach_the_store_as_sqlalchemys(stores: Stores) -> None:
    with stores.meta.write() as tx:
        tx.insert_file(FILE)
    with pytest.raises(sa.exc.IntegrityError), stores.meta.read() as tx:
        statements_for(tx._db).execute(metadata._INSERT_FILE, _file_values())
    # A second file at the same path: the store's write turns the lost race into a conflict.
    with pytest.raises(WriteConflict), stores.meta.write() as tx:
        tx.insert_file(File("g" * 24, FILE.name, FILE.folder_path, 1, 1, 1))


def _file_values() -> dict[str, Any]:
    return {c.name: getattr(FILE, c.name, None) for c in files.c if c.name != "revision"} | {
        "file_path": FILE.file_path
    }


def test_statements_whose_sql_depends_on_the_values_are_not_prepared(stores: Stores) -> None:
    in_list = sa.select(files.c.id).where(files.c.id.in_(["a", "b"]))
    with pytest.raises(ValueError, match="expanded per call"):
        Prepared(in_list, stores.meta.engine.dialect)
