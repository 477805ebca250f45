"""`mediavault fsck` compares every version's search rows (version_tags, version_custom_values)
with what its tags and custom metadata make: a search reads its candidates from them, so rows
that drifted hide files from it. `--repair` makes them again from the versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from imagekitio import ImageKit

from mediavault.config import Settings
from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata
from mediavault.storage.database import migrate
from mediavault.wiring import build_stores
from tests.backends import backend_env
from tests.faults import execute_sql
from tests.support import TEST_KEY, ServerProcess, free_port

PROBLEM = "problem: search rows (tags, custom metadata values) not those of version "


def found_names(server: ServerProcess, query: str) -> set[str]:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    return {f.name for f in client.assets.list(search_query=query)}  # type: ignore[union-attr]


def test_drifted_search_rows_are_reported_and_made_again(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        client.custom_metadata_fields.create(name="brand", label="Brand", schema={"type": "Text"})
        branded = client.files.upload(
            file=b"a",
            file_name="branded.txt",
            use_unique_file_name=False,
            custom_metadata={"brand": "acme"},
        )
        tagged = client.files.upload(
            file=b"b", file_name="tagged.txt", use_unique_file_name=False, tags=["red", "blue"]
        )
        client.files.upload(
            file=b"c", file_name="plain.txt", use_unique_file_name=False, tags=["green"]
        )
        assert found_names(server, '"customMetadata.brand" = "acme"') == {"branded.txt"}
        assert found_names(server, 'tags IN ["red"]') == {"tagged.txt"}

        # Rows lost or changed behind the server's back (a shell, a restore of some tables).
        execute_sql(server, "DELETE FROM version_custom_values")
        execute_sql(server, "UPDATE version_tags SET tag = 'rose' WHERE tag = 'red'")
        assert found_names(server, '"customMetadata.brand" = "acme"') == set()
        assert found_names(server, 'tags IN ["red"]') == set()
    finally:
        server.stop()

    data = ["--data", str(server.data)]
    checked = server.cli_result("fsck", *data)
    assert checked.returncode == 1, checked.stdout
    problems = [line for line in checked.stdout.splitlines() if line.startswith(PROBLEM)]
    assert sorted(problems) == sorted(
        PROBLEM + version for version in (branded.version_info.id, tagged.version_info.id)
    )

    repaired = server.cli_result("fsck", "--repair", *data)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: rebuilt the search rows of 2 versions" in repaired.stdout
    assert server.cli_result("fsck", *data).returncode == 0

    server.start()
    try:
        assert found_names(server, '"customMetadata.brand" = "acme"') == {"branded.txt"}
        assert found_names(server, 'tags IN ["red"]') == {"tagged.txt"}
        assert found_names(server, 'tags IN ["rose"]') == set()
    finally:
        server.stop()


def test_search_rows_of_a_version_that_is_gone_are_reported_and_dropped(tmp_path: Path) -> None:
    if backend_env().get("MEDIAVAULT_DATABASE_URL"):
        pytest.skip("PostgreSQL's foreign keys keep such rows out; SQLite's can be turned off")
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        client.files.upload(file=b"a", file_name="kept.txt", tags=["kept"])
    finally:
        server.stop()
    gone = "e" * 24
    database = sqlite3.connect(server.settings.data / "mediavault.sqlite3", isolation_level=None)
    database.execute("PRAGMA foreign_keys=OFF")
    database.execute("INSERT INTO version_tags VALUES (?, 'user', 'ghost')", (gone,))
    database.close()

    data = ["--data", str(server.data)]
    checked = server.cli_result("fsck", *data)
    assert checked.returncode == 1 and PROBLEM + gone in checked.stdout, checked.stdout
    repaired = server.cli_result("fsck", "--repair", *data)
    assert "repaired: rebuilt the search rows of 1 versions" in repaired.stdout, repaired.stdout
    assert server.cli_result("fsck", *data).returncode == 0


def test_a_repair_of_more_versions_than_one_statement_binds(tmp_path: Path) -> None:
    """The rebuild goes 500 ids at a time: a library whose every row drifted is repaired whole."""
    settings = Settings.from_env(backend_env(), data=tmp_path)
    stores = build_stores(settings)
    try:
        migrate(stores.meta.engine)
        ids = [f"{n:024x}" for n in range(1, 1202)]
        with stores.meta.write() as tx:
            tx.claim_blob("a" * 64, 1, 1)
            for n, version_id in enumerate(ids):
                tx.insert_file(File(version_id, f"f{n}.txt", "/", 1, 1, 1))
                tx.insert_version(
                    Version(
                        version_id, version_id, 1, ContentInfo("a" * 64, 1, "text/plain", "non-image"),
                        VersionMetadata(tags=[f"t{n}"], custom_metadata={"n": n}),
                        f"{n:032x}", True, 1, 1,
                    )
                )  # fmt: skip
        execute_sql(settings, "DELETE FROM version_tags")
        execute_sql(settings, "DELETE FROM version_custom_values")
        with stores.meta.read() as tx:
            assert tx.search_row_mismatches() == ids
        with stores.meta.write() as tx:
            tx.rebuild_search_rows(tx.search_row_mismatches())
        with stores.meta.read() as tx:
            assert tx.search_row_mismatches() == []
    finally:
        stores.close()
