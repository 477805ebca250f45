"""A search that SQLite runs driven by the files' side (a walk in creation order, or a folder's
files) finds each file's current version through the partial unique index of current versions
(one entry per file), not through (file_id, number), which reads every version of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mediavault.api.listing_params import list_query
from mediavault.domain.models import FileVersion, VersionMetadata
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.metadata import MetadataStore
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.tables import blobs, files, version_custom_values, versions

NOW = 1_700_000_000_000
FILES = 30
VERSIONS = 6  # per file; the last is current


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    data: Path = tmp_path_factory.mktemp("probe")
    engine = create_engine(f"sqlite:///{data / 'probe.sqlite3'}")
    migrate(engine)
    digest = "0" * 64
    with engine.begin() as db:
        db.execute(sa.insert(blobs).values(digest=digest, size=1, created_at=NOW))
        db.execute(
            sa.insert(files),
            [
                {"id": f"file{n:020d}", "name": f"n{n}.jpg", "folder_path": f"/d{n % 2}/",
                 "file_path": f"/d{n % 2}/n{n}.jpg", "last_version_number": VERSIONS,
                 "created_at": NOW + (n * 7919) % FILES, "updated_at": NOW}
                for n in range(FILES)
            ],
        )  # fmt: skip
        version_rows = [
                {"id": f"v{number}{n:022d}", "file_id": f"file{n:020d}", "number": number,
                 "blob_digest": digest, "size": 1, "mime": "image/png", "file_type": "image",
                 "custom_metadata": {"brand": "x" if (n + number) % 2 else "y"},
                 "is_private_file": False, "is_published": True,
                 "token": f"t{number}{n:030d}", "is_current": number == VERSIONS,
                 "created_at": NOW + number, "updated_at": NOW + number}
                for n in range(FILES)
                for number in range(1, VERSIONS + 1)
        ]  # fmt: skip
        db.execute(sa.insert(versions), version_rows)
        db.execute(
            sa.insert(version_custom_values),
            [
                r
                for v in version_rows
                for r in custom_value_rows(
                    v["id"], VersionMetadata(custom_metadata=v["custom_metadata"])
                )
            ],
        )
    yield MetadataStore(engine)
    engine.dispose()


def _listed(
    store: MetadataStore, params: dict[str, str], plan: str | None
) -> tuple[list[str], str]:
    """The ids listed with the plan forced, and SQLite's plan of the statement that read them."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: object, _cur: object, sql: str, parameters: Any, *_: object) -> None:
        if sql.startswith("SELECT versions.id,"):
            statements.append((sql, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.read() as tx:
            items = tx.list_assets(list_query(params), plan)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    assert len(statements) == 1
    sql, parameters = statements[0]
    with store.engine.connect() as db:
        rows = db.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
    found = [item for item in items if isinstance(item, FileVersion)]
    assert all(item.version.is_current for item in found)
    return [item.version.id for item in found], " / ".join(str(row[3]) for row in rows)


@pytest.mark.parametrize(
    ("params", "plan"),
    [
        ({"searchQuery": '"customMetadata.brand" = "x"', "limit": "5"}, "order"),
        ({"searchQuery": '"customMetadata.brand" = "x"', "limit": "5"}, None),
        ({"path": "/d1/"}, "filter"),
        ({"searchQuery": 'name : "n1"'}, "filter"),
    ],
)
def test_a_files_current_version_is_found_through_the_partial_index(
    store: MetadataStore, params: dict[str, str], plan: str | None
) -> None:
    ids, explained = _listed(store, params, plan)
    assert "uq_versions_one_current_per_file" in explained
    assert "sqlite_autoindex_versions_2" not in explained
    plain, _ = _listed(store, params, "plain")
    assert ids == plain and ids
