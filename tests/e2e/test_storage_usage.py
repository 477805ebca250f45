"""Storage accounting (GET /v1/storage): after every step of a scripted sequence of changes
made through the official SDK, the figures of several folders equal a recount done here from
the rows and the blob store, on whichever backends the tests run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from imagekitio import ImageKit

from mediavault.storage.database import create_engine
from tests.support import TEST_KEY, ServerProcess, blob_files, check_invariants, free_port, sql

AUTH = (TEST_KEY, "")
PREFIXES = ["/", "/a/", "/a/b/", "/c/", "/d/", "/e/", "/nothing/"]
X, Y, Z = b"x" * 100, b"y" * 200, b"z" * 50


@pytest.fixture
def library(tmp_path: Path) -> Iterator[ServerProcess]:
    """A library of its own: the figures of "/" must be exactly this test's files."""
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    yield server
    server.stop()


def usage(server: ServerProcess, path: str | None = None) -> dict[str, int]:
    params = {} if path is None else {"path": path}
    answer = httpx.get(f"{server.base_url}/v1/storage", params=params, auth=AUTH)
    assert answer.status_code == 200, answer.text
    figures: dict[str, int] = answer.json()
    return figures


def recount(server: ServerProcess, prefix: str) -> dict[str, int]:
    """The figures counted from scratch: rows for the counts, the blob store for bytes."""

    # substr, not LIKE: a % in driver SQL is a placeholder to psycopg.
    def under(column: str) -> str:
        return f"substr({column}, 1, {len(prefix)}) = '{prefix}'"

    (files,) = sql(server, f"SELECT COUNT(*) FROM files WHERE {under('folder_path')}")
    (live,) = sql(
        server,
        "SELECT COUNT(v.id), COALESCE(SUM(CASE WHEN v.is_current THEN v.size ELSE 0 END), 0), "
        "COALESCE(SUM(v.size), 0) FROM versions v JOIN files f ON f.id = v.file_id "
        f"WHERE {under('f.folder_path')}",
    )
    (trash,) = sql(
        server,
        "SELECT COALESCE(SUM(v.size), 0) FROM trashed_versions v "
        f"JOIN trashed_files f ON f.id = v.file_id WHERE {under('f.folder_path')}",
    )
    digests = {
        row[0]
        for table, owner in (("versions", "files"), ("trashed_versions", "trashed_files"))
        for row in sql(
            server,
            f"SELECT v.blob_digest FROM {table} v JOIN {owner} f ON f.id = v.file_id "
            f"WHERE {under('f.folder_path')}",
        )
    }
    stored = blob_files(server)
    if prefix == "/":
        assert digests == set(stored), "every stored blob is referenced, and only those"
    return {
        "files": int(files[0]),
        "versions": int(live[0]),
        "currentBytes": int(live[1]),
        "versionBytes": int(live[2]),
        "trashBytes": int(trash[0]),
        "physicalBytes": sum(stored[d] for d in digests),
    }


def check(server: ServerProcess) -> None:
    for prefix in PREFIXES:
        assert usage(server, prefix) == recount(server, prefix), prefix


def upload(client: ImageKit, content: bytes, path: str) -> Any:
    folder, _, name = path.rpartition("/")
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False
    )


def test_the_figures_equal_a_recount_after_every_change(library: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=library.base_url, max_retries=0)
    assert usage(library) == dict.fromkeys(
        ["files", "versions", "currentBytes", "versionBytes", "trashBytes", "physicalBytes"], 0
    )
    x = upload(client, X, "/a/x.bin")
    y = upload(client, Y, "/a/b/y.bin")
    z = upload(client, X, "/c/z.bin")  # the same bytes as x: one blob
    check(library)
    assert usage(library) == {
        "files": 3,
        "versions": 3,
        "currentBytes": 400,
        "versionBytes": 400,
        "trashBytes": 0,
        "physicalBytes": 300,
    }
    assert usage(library, "/a")["files"] == 2 and usage(library, "/a/b/")["files"] == 1

    # Versions that share blobs with each other and with other files.
    x2 = upload(client, Y, "/a/x.bin")
    upload(client, X, "/a/x.bin")
    check(library)
    assert usage(library, "/a/") | {"physicalBytes": 0} == {
        "files": 2,
        "versions": 4,
        "currentBytes": 300,
        "versionBytes": 600,
        "trashBytes": 0,
        "physicalBytes": 0,
    }
    assert usage(library, "/a/")["physicalBytes"] == 300
    client.files.versions.restore(x2.version_info.id, file_id=x.file_id)
    check(library)
    client.files.versions.delete(x.file_id, file_id=x.file_id)
    check(library)

    # Organize: copy with versions, move across folders, rename, a move onto a same-named file.
    client.files.copy(
        source_file_path="/a/x.bin", destination_path="/d", include_file_versions=True
    )
    check(library)
    client.files.move(source_file_path="/a/x.bin", destination_path="/e")
    check(library)
    client.files.rename(file_path="/c/z.bin", new_file_name="z2.bin")
    check(library)
    client.files.move(source_file_path="/d/x.bin", destination_path="/e")
    check(library)
    new = upload(client, Z, "/c/new.bin")
    client.files.update(new.file_id, tags=["counted"])
    check(library)

    # The trash: single, bulk and folder deletes; restore elsewhere; purge.
    client.files.delete(y.file_id)
    check(library)
    assert usage(library, "/a/b/")["trashBytes"] == 200
    assert usage(library, "/a/b/")["files"] == 0
    client.files.bulk.delete(file_ids=[z.file_id])
    client.folders.delete(folder_path="/c")
    check(library)
    restored = httpx.post(
        f"{library.base_url}/v1/trash/{y.file_id}/restore",
        json={"filePath": "/d/y-again.bin"},
        auth=AUTH,
    )
    assert restored.status_code == 200
    check(library)
    assert httpx.delete(f"{library.base_url}/v1/trash/{z.file_id}", auth=AUTH).status_code == 204
    check(library)
    assert httpx.delete(f"{library.base_url}/v1/trash/{new.file_id}", auth=AUTH).status_code == 204
    check(library)
    assert hashlib.sha256(Z).hexdigest() not in blob_files(library)
    check_invariants(library)


def test_the_path_is_checked_and_the_key_required(library: ServerProcess) -> None:
    assert usage(library, "") == usage(library, "/")
    deep = "/".join(["d"] * 51)
    too_deep = httpx.get(f"{library.base_url}/v1/storage", params={"path": deep}, auth=AUTH)
    assert too_deep.status_code == 400 and set(too_deep.json()) == {"message", "help"}
    unknown = httpx.get(f"{library.base_url}/v1/storage", params={"prefix": "/"}, auth=AUTH)
    assert unknown.status_code == 400
    assert httpx.get(f"{library.base_url}/v1/storage").status_code == 401


def test_fsck_reports_counters_that_drifted_and_repair_rewrites_them(
    library: ServerProcess,
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=library.base_url, max_retries=0)
    upload(client, X, "/a/x.bin")
    upload(client, Y, "/a/x.bin")
    good = usage(library, "/a/")
    engine = create_engine(library.settings.resolved_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE folder_usage SET version_bytes = 1 WHERE folder_path = '/a/'")
            )
    finally:
        engine.dispose()
    assert usage(library, "/a/")["versionBytes"] == 1
    library.stop()
    found = library.cli_result("fsck", "--no-hash")
    assert found.returncode != 0
    assert "storage counters of folder /a/" in found.stdout + found.stderr
    repaired = library.cli("fsck", "--repair", "--no-hash")
    assert "rewrote the storage counters" in repaired
    library.start()
    assert usage(library, "/a/") == good
    check_invariants(library)
