"""The folder statements skipped when no folder can match: the static answer agrees with SQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mediavault.domain.search import parse
from mediavault.storage.listing import _folders_match
from mediavault.storage.search_sql import FolderFields, compile_query
from mediavault.storage.tables import folders, metadata

NOW = 1_700_000_000_000


@pytest.fixture(scope="module")
def db() -> sa.Connection:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine, tables=[folders])
    connection = engine.connect()
    connection.execute(
        sa.insert(folders),
        [
            {"id": f"f{n}", "folder_path": f"/{name}/", "name": name, "parent_path": "/",
             "created_at": NOW + n, "updated_at": NOW + n}
            for n, name in enumerate(["cat", "dog", "sub"])
        ],
    )  # fmt: skip
    return connection


@pytest.mark.parametrize(
    ("text", "static"),
    [
        ('tags IN ["a"]', False),
        ('tags NOT IN ["a"]', True),  # a folder has no tags, so none of these
        ("width > 10", False),
        ("size > 1 OR width > 1", False),
        ('"customMetadata.brand" = "x"', False),
        ("private = true", False),
        ("private != true", True),
        ('type = "folder"', True),
        ('type = "file"', False),
        ('type != "folder"', False),
        ('type IN ["file", "folder"]', True),
        ('type NOT IN ["file"]', True),
        ('name = "cat"', None),
        ('name = "cat" AND width > 1', False),
        ('name = "cat" OR width > 1', None),
        ('tags NOT IN ["a"] AND type = "folder"', True),
        ('tags IN ["a"] OR type = "folder"', True),
        ('(width > 1 OR size > 1) AND name : "c"', False),
        ('(width > 1 AND name : "c") OR (tags NOT IN ["x"] AND size > 1)', False),
        ('createdAt > "1h" AND type = "file-version"', False),
    ],
)
def test_the_static_answer_is_what_the_statement_selects(
    db: sa.Connection, text: str, static: bool | None
) -> None:
    query = parse(text, NOW)
    assert _folders_match(query) is static
    selected = db.scalar(
        sa.select(sa.func.count()).where(compile_query(query, FolderFields()))
        .select_from(folders)
    )  # fmt: skip
    if static is not None:
        assert selected == (3 if static else 0)
