"""A custom metadata condition served from version_custom_values returns exactly what the JSON
comparison returns (the plain statement, as before the table existed), for every operator the
grammar takes on customMetadata, values of every type (strings that read as numbers, booleans
or dates, numbers, booleans), and documents holding every kind of value (missing fields, null,
arrays, objects, long strings, integers beyond a double, mixed types under one field).

The library is written through the store's write path (Transaction.insert_version and
update_version_metadata, which keep the rows), on the configured backend (SQLite, or
PostgreSQL when the MEDIAVAULT_TEST_* variables are set). The plan "filter" is forced, so that
the rows drive every condition they can serve; the automatic choice and the walk in sort order
are compared too.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mediavault.api.listing_params import list_query
from mediavault.config import Settings
from mediavault.domain.models import (
    ContentInfo,
    File,
    FileVersion,
    Folder,
    Version,
    VersionMetadata,
)
from mediavault.domain.search import Condition
from mediavault.storage import search_plan
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.metadata import MetadataStore
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.search_sql import custom_candidates
from mediavault.storage.tables import blobs, version_custom_values, versions
from tests.backends import backend_env

NOW = 1_700_000_000_000
DIGEST = "0" * 64
LONG = "long " * 300  # 1,500 bytes: kept as kind "x"
VALUES: list[Any] = [
    "acme", "Acme", "acme corp", "5", "5.0", "1", "0", "-1", "1.5", "true", "false", "null",
    "", " ", "café", "a/b", 'say "hi"', "[1,2]", "2024-01-01T00:00:00.000Z",
    "2024-06-15T12:00:00.000Z", "2023-12-31", "red", "blue", LONG, "Infinity",
    0, 1, 5, -1, 1.5, 5.0, 20.5, 1e20, 2**60, -(2**60), 2**53, 9007199254740993,
    True, False, None,
    ["red", "blue"], ["red"], [], [1, 2], [True], {"name": "acme"}, {},
]  # fmt: skip
FIELDS = ["brand", "price", "on", "date", "colors", "mixed", "a.b", "x-y", "weird key"]


def _documents(rng: random.Random) -> list[dict[str, Any]]:
    """Typed fields as the field schemas would hold them, and fields of anything at all."""
    documents: list[dict[str, Any]] = [{}, {"mixed": None}]
    for value in VALUES:  # every value under the field that mixes types, once each
        documents.append({"mixed": value})
    for _ in range(240):
        document: dict[str, Any] = {}
        if rng.random() < 0.8:
            document["brand"] = rng.choice(["acme", "Acme", "zeta", "5", "red", "", LONG])
        if rng.random() < 0.7:
            document["price"] = rng.choice([0, 1, 5, 5.0, 5.5, -1, 20.5, 1e20, 2**60, None])
        if rng.random() < 0.5:
            document["on"] = rng.choice([True, False, None])
        if rng.random() < 0.5:
            document["date"] = rng.choice(
                ["2024-01-01T00:00:00.000Z", "2024-06-15T12:00:00.000Z", "2023-12-31"]
            )
        if rng.random() < 0.5:
            document["colors"] = rng.choice([["red", "blue"], ["red"], [], ["blue"]])
        if rng.random() < 0.5:
            document["mixed"] = rng.choice(VALUES)
        if rng.random() < 0.2:
            document["a.b"] = rng.choice(["acme", 5, True])
        if rng.random() < 0.2:
            document["x-y"] = rng.choice(["acme", 5, True])
        if rng.random() < 0.2:
            document["weird key"] = rng.choice(["acme", 5])  # no rows: the JSON walk serves it
        documents.append(document)
    return documents


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    data: Path = tmp_path_factory.mktemp("custom")
    engine = create_engine(Settings.from_env(backend_env(), data=data).resolved_database_url)
    migrate(engine)
    with engine.begin() as db:
        db.execute(sa.insert(blobs).values(digest=DIGEST, size=1, created_at=NOW))
    store = MetadataStore(engine)
    rng = random.Random(11)
    documents = _documents(rng)
    with store.write() as tx:
        for n, document in enumerate(documents):
            file_id = f"f{n:023d}"
            created = NOW + rng.randrange(50) * 1000
            tx.insert_file(File(file_id, f"n{n}.jpg", "/", 2, created, created))
            # Two versions each: the older one holds another document (rows of non-current
            # versions must not leak into a search of current files).
            older = rng.choice(documents)
            for number, custom in ((1, older), (2, document)):
                version_id = f"v{number}{n:022d}"
                tx.insert_version(
                    Version(
                        id=version_id,
                        file_id=file_id,
                        number=number,
                        content=ContentInfo(DIGEST, 1, "image/png", "image"),
                        metadata=VersionMetadata(custom_metadata=custom),
                        token=f"t{number}{n:030d}",
                        is_current=number == 2,
                        created_at=created + number,
                        updated_at=created + number,
                    )
                )
        # And some documents changed after the fact (rows replaced, not added to).
        for n in range(0, len(documents), 7):
            replacement = rng.choice(documents)
            tx.update_version_metadata(
                f"v2{n:022d}", VersionMetadata(custom_metadata=replacement), NOW + 10**6
            )
    yield store
    engine.dispose()


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


# Values as a query writes them (strings quoted; numbers and booleans as they are).
QUERY_VALUES: list[Any] = [
    "acme", "Acme", "5", "5.0", "1", "0", "true", "null", "", "café", "[1,2]", "red",
    "2024-01-01T00:00:00.000Z", "2024-03-01", "a", "Infinity", LONG,
    0, 1, 5, -1, 1.5, 20.5, 100000000000000000000, 1152921504606846976, True, False,
]  # fmt: skip
OPERATORS = ["=", "!=", "<", "<=", ">", ">=", ":", "NOT ="]


def _queries() -> list[str]:
    queries = []
    for field in FIELDS:
        quoted = f'"customMetadata.{field}"'
        for op, value in itertools.product(OPERATORS, QUERY_VALUES):
            if op == ":" and not isinstance(value, str):
                continue  # a number or a boolean after `:`: compared as before, never served
            queries.append(f"{quoted} {op} {_literal(value)}")
        for values in (["acme", "red"], ["5", 5, True], [0, False, ""], ["Acme", 20.5, "x"]):
            listed = ", ".join(_literal(v) for v in values)
            queries.append(f"{quoted} IN [{listed}]")
            queries.append(f"{quoted} NOT IN [{listed}]")
    queries += [
        '"customMetadata.brand" = "acme" OR "customMetadata.price" > 5',
        '"customMetadata.brand" = "acme" AND "customMetadata.price" >= 5',
        '("customMetadata.brand" : "ac" OR "customMetadata.on" = true) AND name : "n1"',
        '"customMetadata.mixed" = "acme" OR "customMetadata.weird key" = "acme"',
        '"customMetadata.brand" = "zeta" OR "customMetadata.mixed" NOT = 5',
        '"customMetadata.date" > "2024-01-01" AND "customMetadata.date" < "2024-07-01"',
    ]
    return queries


QUERIES = _queries()
PAGES = [{"limit": "1000"}, {"sort": "DESC_CREATED", "skip": "3", "limit": "5"}]


def _identity(item: FileVersion | Folder) -> str:
    assert isinstance(item, FileVersion)
    return item.version.id


def _run(store: MetadataStore, params: dict[str, str], plan: str | None) -> list[str] | str:
    """The ids found, or the error (the same either way: `< true` is refused as before)."""
    try:
        with store.read() as tx:
            return [_identity(i) for i in tx.list_assets(list_query(params), plan=plan)]
    except sa.exc.SQLAlchemyError as exc:
        return f"error {type(getattr(exc, 'orig', None) or exc).__name__}"


@pytest.mark.parametrize("search", QUERIES)
def test_the_rows_find_what_the_json_finds(store: MetadataStore, search: str) -> None:
    for page in PAGES:
        params = {"searchQuery": search, **page}
        expected = _run(store, params, "plain")
        for plan in ("filter", "order", None):
            assert _run(store, params, plan) == expected, (plan, page)


def test_the_comparisons_are_not_between_empty_answers(store: MetadataStore) -> None:
    found = [_run(store, {"searchQuery": q, "limit": "1000"}, "filter") for q in QUERIES]
    assert sum(1 for f in found if isinstance(f, list) and f) > len(QUERIES) // 2


def test_the_rows_serve_the_conditions_they_can(store: MetadataStore) -> None:
    """A condition with rows is read from them (the forced filter plan uses them, and they
    narrow: fewer candidates than versions); the rest is left to the JSON."""
    dialect = store.engine.dialect.name
    served = Condition("customMetadata.brand", "=", ("acme",))
    candidates = custom_candidates(served, dialect)
    assert candidates is not None
    with store.read() as tx:
        ids = set(tx._db.scalars(sa.union_all(*candidates)))
        total = tx._db.scalar(sa.select(sa.func.count()).select_from(versions))
    assert 0 < len(ids) < int(total or 0) // 2
    for unserved in (
        Condition("customMetadata.brand", "=", ("acme",), negated=True),
        Condition("customMetadata.weird key", "=", ("acme",)),
        Condition("customMetadata.price", ":", (5.0,)),
        Condition("embeddedMetadata.Make", "=", ("acme",)),
    ):
        assert custom_candidates(unserved, dialect) is None
    search = search_plan.Search(served, "CREATED", False, 0, 10)
    with store.read() as tx:
        plan = search_plan.choose(tx._db, search, forced="filter")
    assert plan.name == "filter" and plan.driver == served


def test_the_rows_are_the_documents_rows(store: MetadataStore) -> None:
    """What the write path left is what custom_value_rows derives from every version now."""
    assert rows_of_library(store.engine) == derived_rows(store.engine)


def rows_of_library(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as db:
        return {tuple(row) for row in db.execute(sa.select(version_custom_values))}


def derived_rows(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as db:
        documents = db.execute(sa.select(versions.c.id, versions.c.custom_metadata)).all()
    return {
        tuple(row.values())
        for version_id, document in documents
        for row in custom_value_rows(version_id, VersionMetadata(custom_metadata=document))
    }
