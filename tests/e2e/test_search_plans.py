"""Every way of running a search returns the same rows, in the same order, as the plain
statement: the filter-driven plan (an OR as a union of per-condition id sets), the walk in
sort order by windows, and the automatic choice (mediavault.storage.search_plan).

The library is built by bulk inserts, on the configured backend (SQLite, or PostgreSQL when
the MEDIAVAULT_TEST_* variables are set), with few distinct values so that sort keys tie, a
block of files sharing one creation time wider than a window, files with several versions,
tags of both sources, missing and mixed-type custom metadata, and non-images without sizes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediavault.api.listing_params import list_query
from mediavault.config import Settings
from mediavault.domain.models import FileVersion, Folder, VersionMetadata
from mediavault.storage import search_plan
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.listing import Listed
from mediavault.storage.metadata import MetadataStore
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.search_sql import compare, compare_integer
from mediavault.storage.tables import (
    blobs,
    files,
    folders,
    version_custom_values,
    version_tags,
    versions,
)
from tests.backends import backend_env

NOW = 1_700_000_000_000
DAY = 86_400_000
FOLDERS = ["/", "/a/", "/a/b/", "/c/"]
TAGS = ["red", "blue", "green", "sale"]
AI_TAGS = ["cat", "dog"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    data: Path = tmp_path_factory.mktemp("plans")
    engine = create_engine(Settings.from_env(backend_env(), data=data).resolved_database_url)
    migrate(engine)
    with engine.begin() as db:
        _fill(db, random.Random(7))
    yield MetadataStore(engine)
    engine.dispose()


def _fill(db: sa.Connection, rng: random.Random) -> None:
    digest = "0" * 64
    db.execute(sa.insert(blobs).values(digest=digest, size=1, created_at=NOW))
    db.execute(
        sa.insert(folders),
        [
            {"id": f"folder{n:018d}", "folder_path": path, "name": path.strip("/").split("/")[-1],
             "parent_path": path[: path.rstrip("/").rfind("/") + 1], "created_at": NOW + n,
             "updated_at": NOW + n}
            for n, path in enumerate(FOLDERS[1:])
        ],
    )  # fmt: skip
    file_rows, version_rows, tag_rows = [], [], []
    paths: set[str] = set()
    for i in range(420):
        file_id = f"f{i:023d}"
        folder = FOLDERS[i % len(FOLDERS)]
        name = f"{rng.choice(['cat', 'ca', 'dog', 'x_%'])}{i % 50}.{rng.choice(['jpg', 'png'])}"
        if folder + name in paths:  # the same name in other folders only
            name = f"{i}-{name}"
        paths.add(folder + name)
        # Few creation times (ties everywhere), and a block of 60 files sharing one.
        created = NOW - DAY if 100 <= i < 160 else NOW - rng.randrange(12) * DAY
        count = rng.choice([1, 1, 1, 2, 3])
        file_rows.append(
            {"id": file_id, "name": name, "folder_path": folder, "file_path": folder + name,
             "last_version_number": count, "created_at": created,
             "updated_at": created + rng.choice([0, 0, 3 * DAY])}
        )  # fmt: skip
        for number in range(1, count + 1):
            version_id = file_id if number == 1 else f"v{i:020d}{number:03d}"
            image = rng.random() < 0.8
            tags = rng.sample(TAGS, rng.randrange(3)) or None
            ai = [{"name": t, "confidence": 90, "source": "x"} for t in rng.sample(AI_TAGS, 1)]
            metadata = rng.choice(
                [{}, {"brand": "acme"}, {"brand": "zeta", "price": 20.5}, {"brand": "5"},
                 {"price": 5}, {"price": 10, "on": True}, {"on": False}]
            )  # fmt: skip
            version_rows.append(
                {"id": version_id, "file_id": file_id, "number": number, "blob_digest": digest,
                 "size": rng.choice([100, 2048, 5000, 70_000]),
                 "mime": rng.choice(["image/jpeg", "image/png"]) if image else "text/plain",
                 "file_type": "image" if image else "non-image",
                 "width": rng.choice([10, 300, 4000]) if image else None,
                 "height": rng.choice([10, 200]) if image else None,
                 "has_alpha": rng.choice([True, False]) if image else None,
                 "tags": tags, "ai_tags": ai if rng.random() < 0.3 else None,
                 "custom_metadata": metadata, "custom_coordinates": None, "description": None,
                 "is_private_file": rng.random() < 0.2, "is_published": rng.random() < 0.9,
                 "token": f"t{i:027d}{number:03d}"[:32], "is_current": number == count,
                 "created_at": created + number * 1000, "updated_at": created + number * 1000}
            )  # fmt: skip
            tag_rows += [{"version_id": version_id, "source": "user", "tag": t} for t in tags or ()]
            if version_rows[-1]["ai_tags"]:
                tag_rows += [
                    {"version_id": version_id, "source": "ai", "tag": a["name"]} for a in ai
                ]
    db.execute(sa.insert(files), file_rows)
    db.execute(sa.insert(versions), version_rows)
    db.execute(sa.insert(version_tags), tag_rows)
    # As the write paths keep them (storage/rows.py).
    value_rows = [
        r
        for v in version_rows
        for r in custom_value_rows(v["id"], VersionMetadata(custom_metadata=v["custom_metadata"]))
    ]
    db.execute(sa.insert(version_custom_values), value_rows)


QUERIES = [
    {},
    {"path": "/a/"},
    {"path": "/a/", "fileType": "image"},
    {"tags": "red, sale"},
    {"name": "cat3.jpg"},
    {"type": "all", "path": "/c/"},
    {"searchQuery": 'name = "cat3.jpg"'},
    {"searchQuery": 'name : "ca"'},
    {"searchQuery": 'name : "x_%"'},
    {"searchQuery": 'name IN ["cat3.jpg", "dog4.png", "b"]'},
    {"searchQuery": 'name NOT = "cat3.jpg"'},
    {"searchQuery": 'tags IN ["red"]'},
    {"searchQuery": 'tags IN ["green", "cat"]'},
    {"searchQuery": 'tags NOT IN ["red", "blue"]'},
    {"searchQuery": "width > 300"},
    {"searchQuery": "width > 299.5 OR height <= 10.5"},
    {"searchQuery": "height = 10.5 OR width >= 4000.0"},
    {"searchQuery": "width NOT = 300 AND width < 99999999999999999999"},
    {"searchQuery": "width > -99999999999999999999 AND height != 200"},
    {"searchQuery": 'width >= 300 AND format = "png"'},
    {"searchQuery": 'format IN ["jpg", "txt"]'},
    {"searchQuery": 'size > "2kb"'},
    {"searchQuery": 'size <= "2kb" AND height < 100'},
    {"searchQuery": 'createdAt > "2023-11-10T00:00:00Z"'},
    {"searchQuery": 'createdAt <= "2023-11-12"'},
    {"searchQuery": 'updatedAt >= "2023-11-08" AND name : "dog"'},
    {"searchQuery": '"customMetadata.brand" = "acme"'},
    {"searchQuery": '"customMetadata.brand" = "5"'},
    {"searchQuery": '"customMetadata.price" > 6'},
    {"searchQuery": '"customMetadata.on" = true'},
    {"searchQuery": "private = true OR transparency = true"},
    {"searchQuery": 'name = "cat3.jpg" OR tags IN ["sale"]'},
    {"searchQuery": 'name = "cat3.jpg" OR name : "dog1" OR width > 3000'},
    {"searchQuery": 'size > "1kb" OR width > 10'},
    {"searchQuery": '(name : "ca" OR tags IN ["blue"]) AND size < "10kb"'},
    {"searchQuery": '(tags IN ["red"] OR "customMetadata.brand" = "zeta") AND width > 20'},
    {"searchQuery": 'tags IN ["red"] AND (width > 3000 OR size = 100)'},
    {"searchQuery": 'createdAt > "2023-11-10" AND (name : "c" OR published = false)'},
    {"searchQuery": 'type = "file-version" AND tags IN ["red"]'},
    {"searchQuery": 'type IN ["file", "file-version"] AND width > 300'},
    {"searchQuery": 'type = "folder" OR name : "ca"'},
]
PAGES = [
    {},
    {"sort": "DESC_CREATED", "limit": "7"},
    {"sort": "ASC_CREATED", "skip": "5", "limit": "7"},
    {"sort": "ASC_NAME", "skip": "2", "limit": "9"},
    {"sort": "DESC_NAME", "limit": "40"},
    {"sort": "ASC_SIZE", "skip": "37", "limit": "3"},
    {"sort": "DESC_SIZE", "limit": "11"},
    {"sort": "ASC_UPDATED", "skip": "1", "limit": "5"},
    {"sort": "DESC_UPDATED", "skip": "400", "limit": "5"},
    {"sort": "DESC_WIDTH", "limit": "6"},
    {"sort": "ASC_HEIGHT", "skip": "3", "limit": "4"},
    {"sort": "DESC_RELEVANCE", "limit": "8"},
    {"skip": str(10**30), "limit": "5"},  # beyond any count: empty, never an overflow
]


def _identity(item: FileVersion | Folder) -> str:
    if isinstance(item, Folder):
        return f"folder {item.folder_path}"
    return f"{item.version.id} of {item.file.id}"


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: str(q)[:60])
def test_every_plan_returns_the_plain_statements_rows_in_order(
    store: MetadataStore, query: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_plan, "FIRST_WINDOW", 1)  # many small windows
    matched = 0
    with store.read() as tx:
        for page in PAGES:
            listed = list_query({**query, **page})
            expected = [_identity(i) for i in tx.list_assets(listed, plan="plain")]
            matched += len(expected)
            for plan in ("filter", "order", "windows", None):
                found = [_identity(i) for i in tx.list_assets(listed, plan=plan)]
                assert found == expected, (plan, page)
    assert matched  # the comparison is not between empty lists


@pytest.mark.parametrize("kept_share", [0.0, 0.3, 0.8, 1.0])
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: str(q)[:60])
def test_a_listing_that_reuses_kept_answers_lists_the_same_results(
    store: MetadataStore, query: dict[str, str], kept_share: float
) -> None:
    """list_assets_reusing (GET /v1/files's way): the same results in the same order as
    list_assets, each with its file's revision; a version its caller keeps at that revision
    comes back as the caller's own answer and is not read, every other one is read. Shares
    of kept answers below and above a half take the two ways of reading the rest (by id, or
    the page's statement again)."""
    rng = random.Random(f"{query}{kept_share}")
    with store.read() as tx:
        revisions = dict(tx._db.execute(sa.select(files.c.id, files.c.revision)).all())
        for page in PAGES:
            listed = list_query({**query, **page})
            expected = tx.list_assets(listed)
            # Read at once, nothing reused: what identifies each result, and its revision.
            first = tx.list_assets_reusing(listed, None)
            assert [_key(e) for e in first] == [_key(i) for i in expected]
            keys = [(e.key, e.revision) for e in first if isinstance(e, Listed)]
            assert len(set(keys)) == len(keys)
            kept = {key: f"kept {key}" for key in keys if rng.random() < kept_share}
            reuse = _Kept(kept)
            found = tx.list_assets_reusing(listed, reuse)
            assert len(found) == len(expected)
            for entry, plain, item in zip(found, first, expected, strict=True):
                if isinstance(item, Folder):
                    assert entry == plain == item
                    continue
                assert isinstance(plain, Listed) and plain.item == item
                assert plain.revision == revisions[item.file.id]
                if (plain.key, plain.revision) in kept:  # the caller's answer, in its place
                    assert entry == kept[plain.key, plain.revision]
                else:
                    assert entry == plain
            # Every version listed was asked for (a plan may ask for rows it then skips).
            assert set(keys) <= set(reuse.asked)


class _Kept:
    """A caller's kept answers by (version id, revision), and every pair it was asked for."""

    def __init__(self, kept: dict[tuple[str, int], str]) -> None:
        self.kept = kept
        self.asked: list[tuple[str, int]] = []

    def __call__(self, pairs: Sequence[tuple[str, int]]) -> list[str | None]:
        self.asked.extend(pairs)
        return [self.kept.get(pair) for pair in pairs]


def _key(entry: Listed | FileVersion | Folder) -> str:
    """A result's version (or folder), whichever way it was listed."""
    if isinstance(entry, Folder):
        return _identity(entry)
    item = entry if isinstance(entry, FileVersion) else entry.item
    return item.version.id


def test_the_choice_follows_the_counts(store: MetadataStore) -> None:
    with store.read() as tx:
        db = tx._db

        def chosen(search: str, **page: str) -> str:
            listed = list_query({"searchQuery": search, **page})
            assert listed.search is not None
            return search_plan.choose(
                db, search_plan.Search(listed.search, listed.sort_key, False, 0, listed.limit)
            ).name

        assert chosen('name = "cat3.jpg"', limit="5") == "filter"
        assert chosen('name = "cat3.jpg" OR tags IN ["sale"]', limit="5") == "order"
        assert chosen('size > "1kb" OR width > 10', limit="5") == "order"
        assert chosen('"customMetadata.brand" = "acme"', limit="5") == "order"
        assert chosen('tags IN ["sale"] AND name = "cat3.jpg"', limit="5") == "filter"
        assert chosen("width > 300", sort="DESC_WIDTH", limit="5") == "plain"  # NULL widths
        # Everything fits under the limit: reading what matches and sorting it is cheapest.
        assert chosen('size > "1kb" OR width > 10', limit="1000") == "filter"


@pytest.mark.parametrize("op", ["=", ">", ">=", "<", "<="])
def test_integer_comparisons_match_the_float_ones(store: MetadataStore, op: str) -> None:
    """width and height compare with an integer (PostgreSQL can then use their indexes):
    the same versions as comparing with the number as written, NOT and NULL included."""
    width = versions.c.width
    with store.read() as tx:
        for value in [-1e30, -5.0, 9.5, 10.0, 10.5, 299.9, 300.0, 300.1, 3999.5, 4000.0, 1e30]:
            for negated in (False, True):
                as_float = compare(width, op, (value,))
                as_integer = compare_integer(width, op, value)
                if negated:
                    as_float = sa.not_(sa.func.coalesce(as_float, sa.false()))
                    as_integer = sa.not_(sa.func.coalesce(as_integer, sa.false()))
                rows = [
                    set(tx._db.scalars(sa.select(versions.c.id).where(condition)))
                    for condition in (as_float, as_integer)
                ]
                assert rows[0] == rows[1], (op, value, negated)
