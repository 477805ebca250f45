"""A metadata equality on SQLite first looks for the quoted value in the document's text (a
cheap filter before the JSON parse): it must match exactly the rows the plain comparison does,
negated too, whatever the documents hold (numbers and booleans that read as the value, arrays,
nested objects, escapes, missing keys, no document) and whoever wrote them."""

from __future__ import annotations

import json

import msgspec
import pytest
import sqlalchemy as sa

from mediavault.domain.search import Condition
from mediavault.storage.search_sql import VersionFields, _quoted_in_json, compile_query
from mediavault.storage.tables import metadata, versions

DOCUMENTS: list[object] = [
    {"brand": "acme"},
    {"brand": "acme corp"},
    {"brand": "acme", "other": "x"},
    {"other": "acme"},  # the value under another key
    {"brand": "Acme"},
    {"brand": ["acme"]},
    {"brand": {"name": "acme"}},
    {"brand": 5},
    {"brand": 5.5},
    {"brand": -1},
    {"brand": 1e20},
    {"brand": True},
    {"brand": False},
    {"brand": None},
    {"brand": [1, 2]},
    {"brand": []},
    {"brand": {}},
    {"brand": "a/b"},
    {"brand": 'say "hi"'},
    {"brand": "back\\slash"},
    {"brand": "café"},
    {"brand": "tab\there"},
    {"brand": ""},
    {"brand": " "},
    {"brand": "e"},
    {"brand": "Inf"},
    {"brand.dotted": "acme"},
    {},
    None,
]
VALUES = [
    "acme", "Acme", "acme corp", "5", "5.5", "-1", "1e+20", "1.0e+20", "1", "0", "true",
    "[1,2]", "[1, 2]", "[]", "{}", '["acme"]', "a/b", 'say "hi"', "back\\slash", "café",
    "tab\there", "", " ", "e", "Inf", "x", "other", "brand", "null",
]  # fmt: skip


@pytest.fixture(scope="module")
def db() -> sa.Connection:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine, tables=[versions])
    connection = engine.connect()
    rows = []
    for n, document in enumerate(DOCUMENTS):
        # Each document as json.dumps writes it (SQLAlchemy's JSON type) and as msgspec does.
        for writer, text in (
            ("dumps", None if document is None else json.dumps(document)),
            ("msgspec", None if document is None else msgspec.json.encode(document).decode()),
        ):
            rows.append(
                {"id": f"{writer}{n}", "file_id": f"f{writer}{n}", "number": 1,
                 "blob_digest": "0" * 64, "size": 1, "mime": "image/png", "file_type": "image",
                 "custom_metadata": text, "is_private_file": False, "is_published": True,
                 "token": f"t{writer}{n}", "is_current": True, "created_at": 1,
                 "updated_at": 1}
            )  # fmt: skip
    connection.execute(sa.insert(versions), rows)
    # Stored as written, not re-serialized: the JSON type would encode the text again.
    for row in rows:
        connection.execute(
            sa.text("UPDATE versions SET custom_metadata = :text WHERE id = :id"),
            {"text": row["custom_metadata"], "id": row["id"]},
        )
    return connection


def _matched(db: sa.Connection, condition: Condition, dialect: str) -> list[str]:
    where = compile_query(condition, VersionFields(current_only=True, dialect=dialect))
    return list(db.scalars(sa.select(versions.c.id).where(where).order_by(versions.c.id)))


@pytest.mark.parametrize("negated", [False, True])
@pytest.mark.parametrize("value", VALUES)
def test_the_text_filter_matches_what_the_comparison_matches(
    db: sa.Connection, value: str, negated: bool
) -> None:
    condition = Condition("customMetadata.brand", "=", (value,), negated)
    # dialect "" compiles the plain comparison, as before the filter.
    assert _matched(db, condition, "sqlite") == _matched(db, condition, "")


def test_in_lists_too(db: sa.Connection) -> None:
    for negated in (False, True):
        condition = Condition("customMetadata.brand", "in", ("acme", "5", "Acme", "a/b"), negated)
        assert _matched(db, condition, "sqlite") == _matched(db, condition, "")


def test_the_filter_is_used_for_plain_words_only() -> None:
    assert _quoted_in_json("acme corp") and _quoted_in_json("brand5")
    for value in ("5", "1e+20", "-Inf", "", "a/b", 'a"b', "café", "[1,2]", "{}", "tab\there"):
        assert not _quoted_in_json(value)
    condition = Condition("customMetadata.brand", "=", ("acme",))
    compiled = compile_query(condition, VersionFields(current_only=True, dialect="sqlite"))
    assert "instr" in str(compiled.compile(dialect=sa.create_engine("sqlite://").dialect))
