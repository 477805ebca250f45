"""The one-statement lookups return what the transaction reads return, and use their indexes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from mediavault.config import Settings
from mediavault.domain.models import (
    ContentInfo,
    Delivered,
    File,
    FileVersion,
    Version,
    VersionMetadata,
    delivered,
)
from mediavault.serializers import file_struct, version_list
from mediavault.services.stores import Stores
from mediavault.storage.database import migrate
from mediavault.storage.lookups import (
    CURRENT_AT_PATH,
    CURRENT_VERSION,
    DELIVERED_AT_PATH,
    ONE_VERSION,
    STATEMENTS,
    Lookups,
    through_connection,
)
from mediavault.urls import UrlBuilder
from mediavault.wiring import build_stores
from tests.backends import backend_env

DIGESTS = ["a" * 64, "b" * 64, "c" * 64]
FILE = File("f" * 24, "a b.jpg", "/x y/", 4, 1_700_000_000_123, 1_700_000_009_456)
ODD = VersionMetadata(
    tags=["t1", "t2"],
    ai_tags=[{"name": "cat", "confidence": 97.5, "source": "google-auto-tagging"}],
    custom_metadata={"price": 1.5, "brand": "x", "nested": {"k": [1, None]}},
    custom_coordinates="1,2,3,4",
    description='a "quoted" description',
    is_private_file=True,
    is_published=False,
)
VERSIONS = [
    # number 1: every optional field empty; number 2: current, image fields; 3: odd metadata;
    # 4: like 1 but with custom metadata {} and has_alpha False.
    Version(
        "1" * 24, FILE.id, 1, ContentInfo(DIGESTS[0], 3, "text/plain", "non-image"),
        VersionMetadata(), "t" * 32, False, 1_600_000_000_000, 1_600_000_000_999,
    ),
    Version(
        "2" * 24, FILE.id, 2, ContentInfo(DIGESTS[1], 10, "image/png", "image", 4, 3, True),
        VersionMetadata(tags=["only"]), "u" * 32, True, 1_650_000_000_000, 1_650_000_000_001,
    ),
    Version(
        "3" * 24, FILE.id, 3, ContentInfo(DIGESTS[2], 0, "image/jpeg", "image", 0, 0, None),
        ODD, "v" * 32, False, 1_660_000_000_000, 1_660_000_000_000,
    ),
    Version(
        "4" * 24, FILE.id, 4, ContentInfo(DIGESTS[0], 3, "text/plain", "non-image", None, None, False),
        VersionMetadata(custom_metadata={}), "w" * 32, False, 1_670_000_000_000, 1_670_000_000_000,
    ),
]  # fmt: skip


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    built = build_stores(Settings.from_env(backend_env(), data=tmp_path))
    migrate(built.meta.engine)
    with built.meta.write() as tx:
        for digest in DIGESTS:
            tx.claim_blob(digest, 3, 1)
        tx.insert_file(FILE)
        for version in VERSIONS:
            tx.insert_version(version)
    yield built
    built.close()


def both_runners(stores: Stores) -> Iterator[Lookups]:
    """The configured runner (raw sqlite3 on SQLite) and the SQLAlchemy one."""
    with stores.meta.lookups() as lookups:
        yield lookups
    with stores.meta.engine.connect() as connection:
        yield Lookups(through_connection(connection))


def test_the_lookups_return_the_records_the_transactions_read(stores: Stores) -> None:
    with stores.meta.read() as tx:
        file = tx.get_file(FILE.id)
        assert file == FILE
        stored = {v.id: tx.get_version(FILE.id, v.id) for v in VERSIONS}
    expected = [FileVersion(FILE, v) for v in (stored["2" * 24], *(stored[n * 24] for n in "431"))]
    # What was written comes back, custom metadata that was None reading as {} (rows.py).
    first = stored["1" * 24]
    assert first is not None and first.metadata == VersionMetadata(custom_metadata={})
    assert msgspec.structs.replace(first, metadata=VERSIONS[0].metadata) == VERSIONS[0]
    assert stored["3" * 24] == VERSIONS[2]
    for lookups in both_runners(stores):
        assert lookups.versions(FILE.id) == expected
        assert lookups.current(FILE.id) == expected[0]
        for item in expected:
            assert lookups.version(FILE.id, item.version.id) == item
            assert lookups.at_path(FILE.file_path, item.version.token) == item
        assert lookups.at_path(FILE.file_path, None) == expected[0]

        # What a delivery reads: the same version's values, FileVersion.updated_at included,
        # and the file's revision, which a record does not carry (-1 there).
        def without_revision(found: object) -> object:
            assert isinstance(found, Delivered) and found.revision >= 0
            return msgspec.structs.replace(found, revision=-1)

        for item in expected:
            found = lookups.delivered(FILE.file_path, item.version.token)
            assert without_revision(found) == delivered(item)
        assert without_revision(lookups.delivered(FILE.file_path, None)) == delivered(expected[0])
        assert lookups.delivered(FILE.file_path, "z" * 32) is True  # the file, not the version
        assert lookups.delivered("/x y/other.jpg", None) is False
        assert lookups.delivered("/x y/other.jpg", "t" * 32) is False
        found = lookups.delivered(FILE.file_path, None)
        assert not isinstance(found, bool)
        assert type(found.is_private_file) is bool and type(found.is_published) is bool
        # A token of another file, an unknown token, no file at the path, an unknown id.
        assert lookups.at_path(FILE.file_path, "z" * 32) == FILE
        assert lookups.at_path("/x y/other.jpg", None) is None
        assert lookups.at_path("/x y/other.jpg", "t" * 32) is None
        assert lookups.version(FILE.id, "9" * 24) is None
        assert lookups.current("9" * 24) is None
        assert lookups.versions("9" * 24) == []
        for item in lookups.versions(FILE.id):
            # Equality would take 1 for True: the raw path must convert types as SQLAlchemy does.
            assert type(item.version.is_current) is bool
            assert type(item.version.metadata.is_private_file) is bool
            alpha = item.version.content.has_alpha
            assert alpha is None or type(alpha) is bool


def test_every_lookup_searches_an_index_and_sorts_nothing(stores: Stores) -> None:
    """On SQLite: a current version is found through the partial index of current versions,
    not by walking every current version of the library, and the list needs no sort."""
    if stores.meta.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query planner")
    database = stores.meta.engine.url.database
    assert database
    connection = sqlite3.connect(database)
    dialect = stores.meta.engine.dialect
    for statement in STATEMENTS:
        compiled = statement.compile(dialect=dialect)
        params = ["x"] * len(compiled.positiontup or ())
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {compiled}", params)]
        # A correlated subquery (one version's file's current version id) is a step of its own.
        steps = [step for step in plan if not step.startswith("CORRELATED SCALAR SUBQUERY")]
        assert all(step.startswith("SEARCH") for step in steps), (str(compiled), plan)
        assert not any("(is_current=?)" in step for step in plan), plan
    # By file id, by file path, and the current version id beside one version.
    for statement in (CURRENT_VERSION, CURRENT_AT_PATH, ONE_VERSION, DELIVERED_AT_PATH):
        compiled = statement.compile(dialect=dialect)
        params = ["x"] * len(compiled.positiontup or ())
        plan = connection.execute(f"EXPLAIN QUERY PLAN {compiled}", params).fetchall()
        assert any("uq_versions_one_current_per_file" in row[3] for row in plan), plan


def test_the_version_list_from_rows_says_what_the_records_say(stores: Stores) -> None:
    """The version list is serialized from rows (fast path) and from records (Litestar's
    route, webhooks): both must give the same File objects, in the same order."""
    urls = UrlBuilder("http://h:1/media")
    for lookups in both_runners(stores):
        found = lookups.version_list(FILE.id)
        assert found is not None and found.file == FILE
        from_rows = msgspec.json.encode(version_list(found, urls))
        from_records = msgspec.json.encode(
            [file_struct(i, urls) for i in lookups.versions(FILE.id)]
        )
        assert from_rows == from_records
        assert [v["versionInfo"]["name"] for v in json.loads(from_rows)] == [
            "Version 2", "Version 4", "Version 3", "Version 1",
        ]  # fmt: skip
        assert lookups.version_list("9" * 24) is None


def test_the_version_list_reads_stored_nan_as_the_records_do(stores: Stores) -> None:
    """Rows written before NaN was refused (only Python's json reads them) list as null."""
    if stores.meta.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's json type never held NaN")
    odd = msgspec.structs.replace(
        VERSIONS[0],
        id="5" * 24,
        number=5,
        token="x" * 32,
        metadata=VersionMetadata(custom_metadata={"n": float("nan"), "i": float("inf")}),
    )
    with stores.meta.write() as tx:
        tx.insert_version(odd)
    urls = UrlBuilder("http://h:1/media")
    with stores.meta.lookups() as lookups:
        found = lookups.version_list(FILE.id)
        assert found is not None
        listed = json.loads(msgspec.json.encode(version_list(found, urls)))
        records = [file_struct(i, urls) for i in lookups.versions(FILE.id)]
    assert listed == json.loads(msgspec.json.encode(records))
    assert [v["customMetadata"] for v in listed if v["versionInfo"]["name"] == "Version 5"] == [
        {"n": None, "i": None}
    ]


def test_the_write_path_finds_and_demotes_the_current_version_through_its_index(
    stores: Stores,
) -> None:
    """Every new version and every restore runs these: a scan here costs each write the
    whole library's current versions."""
    if stores.meta.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query planner")
    from mediavault.storage import metadata

    database = stores.meta.engine.url.database
    assert database
    connection = sqlite3.connect(database)
    for statement in (metadata._CURRENT_VERSION, metadata._DEMOTE_CURRENT):
        compiled = statement.compile(dialect=stores.meta.engine.dialect)
        params = ["x"] * len(compiled.positiontup or ())
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {compiled}", params)]
        assert plan == ["SEARCH versions USING INDEX uq_versions_one_current_per_file (file_id=?)"]
