"""A search driven by version ids (custom metadata's value rows, tags) on SQLite reads each
candidate's currentness and file, and each file's creation time and revision, from the covering
indexes of migration 0013, as the statement tells SQLite's planner (`INDEXED BY`): checked on
the plans of the statements a listing actually runs, both the page of ids and revisions (a
listing asked for again) and the whole records.

And where the value rows alone decide (an equality with plain words), they decide, on both
backends: a row that disagrees with the JSON shows it (the rows are derived data, which
`mediavault fsck` checks), while a value that is not a plain word is still compared in the
JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mediavault.api.listing_params import list_query
from mediavault.config import Settings
from mediavault.domain.models import ContentInfo, File, FileVersion, Version, VersionMetadata
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.metadata import MetadataStore
from mediavault.storage.tables import (
    FILES_BY_ID_INDEX,
    VERSIONS_BY_ID_INDEX,
    blobs,
    version_custom_values,
)
from tests.backends import backend_env

NOW = 1_700_000_000_000
DIGEST = "0" * 64
BRANDS = ["acme", "zeta", "a/b"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    """A library of 60 files on the configured backend (a new database on PostgreSQL)."""
    engine = create_engine(Settings.from_env(backend_env(), data=tmp_path).resolved_database_url)
    migrate(engine)
    with engine.begin() as db:
        db.execute(sa.insert(blobs).values(digest=DIGEST, size=1, created_at=NOW))
    store = MetadataStore(engine)
    with store.write() as tx:
        for n in range(60):
            file_id = f"f{n:023d}"
            tx.insert_file(File(file_id, f"n{n}.jpg", "/", 1, NOW + n, NOW + n))
            metadata = VersionMetadata(
                tags=["red"] if n % 3 == 0 else ["blue"],
                custom_metadata={"brand": BRANDS[n % len(BRANDS)]},
            )
            tx.insert_version(
                Version(
                    id=f"v{n:023d}",
                    file_id=file_id,
                    number=1,
                    content=ContentInfo(DIGEST, 1, "image/png", "image"),
                    metadata=metadata,
                    token=f"t{n:031d}",
                    is_current=True,
                    created_at=NOW + n,
                    updated_at=NOW + n,
                )
            )
    yield store
    engine.dispose()


def _ids(items: list[Any]) -> list[str]:
    found = []
    for item in items:
        record = getattr(item, "item", item)  # a Listed (a page read for reuse) or a record
        assert isinstance(record, FileVersion)
        found.append(record.version.id)
    return found


def _plans_of_listing(store: MetadataStore, search: str) -> tuple[list[str], list[str]]:
    """The ids a listing finds, and the query plan lines of every statement it ran with a
    hint, each plan read with the statement's own parameters."""
    ran: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "INDEXED BY" in statement:
            ran.append((statement, parameters))

    engine = store.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        query = list_query({"searchQuery": search, "limit": "100"})
        with store.read() as tx:
            whole = _ids(tx.list_assets(query, plan="filter"))
            paged = _ids(tx.list_assets_reusing(query, lambda pairs: [None] * len(pairs)))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert whole == paged
    plans = []
    with engine.connect() as db:
        raw = db.connection.driver_connection
        assert raw is not None
        for statement, parameters in ran:
            rows = raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.append("\n".join(str(row[-1]) for row in rows))
    return whole, plans


@pytest.mark.parametrize(
    "search", ['"customMetadata.brand" = "acme"', 'tags IN ["red"]', 'tags IN ["red", "x"]']
)
def test_a_search_by_version_ids_reads_the_covering_indexes(
    store: MetadataStore, search: str
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL takes no INDEXED BY and plans for itself")
    found, plans = _plans_of_listing(store, search)
    assert len(found) == 20
    assert len(plans) >= 2  # the whole records, and the page of ids and revisions
    for plan in plans:
        assert f"INDEX {VERSIONS_BY_ID_INDEX}" in plan, plan
        assert f"INDEX {FILES_BY_ID_INDEX}" in plan, plan
    # The page of ids and revisions reads no file row: the index has all it needs. Nor a
    # version row for tags; for custom metadata SQLite reads one only when the JSON must be
    # compared (a value not kept): the plan cannot show that seek, deferred until a column
    # outside the index is needed.
    pages = [plan for plan in plans if f"COVERING INDEX {FILES_BY_ID_INDEX}" in plan]
    assert pages, plans
    if search.startswith("tags"):
        assert all(f"COVERING INDEX {VERSIONS_BY_ID_INDEX}" in plan for plan in pages), pages


def _disagree(store: MetadataStore, version_id: str, brand: str) -> None:
    """Make the version's value row say `brand` while its JSON says otherwise."""
    with store.engine.begin() as db:
        db.execute(
            sa.update(version_custom_values)
            .where(version_custom_values.c.version_id == version_id)
            .values(string=brand)
        )


def _found(store: MetadataStore, search: str) -> list[str]:
    query = list_query({"searchQuery": search, "limit": "100"})
    with store.read() as tx:
        return _ids(tx.list_assets(query, plan="filter"))


def test_the_rows_decide_an_equality_with_plain_words(store: MetadataStore) -> None:
    zeta = f"v{1:023d}"  # its JSON says "zeta"
    _disagree(store, zeta, "acme")
    assert zeta in _found(store, '"customMetadata.brand" = "acme"')
    assert zeta in _found(store, '"customMetadata.brand" IN ["acme", "none"]')


def test_the_json_decides_a_value_that_is_not_a_plain_word(store: MetadataStore) -> None:
    zeta = f"v{1:023d}"
    _disagree(store, zeta, "a/b")  # a slash: a serializer may escape it, so the JSON decides
    found = _found(store, '"customMetadata.brand" = "a/b"')
    assert zeta not in found and len(found) == 20
