"""Every write that sets, changes, copies, moves, trashes, restores or deletes a version's custom
metadata leaves version_custom_values as custom_value_rows derives it from the versions (the
rows a custom metadata search reads), and the search finds what it should after each: upload,
a new version, details update, bulk tag edits (which rewrite the metadata), version restore,
copy with versions, move, rename, the folder jobs (copy, move, rename), version deletion, file
deletion into the trash, restore from the trash, purge, export and import."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from imagekitio import ImageKit

from mediavault.config import Settings
from mediavault.services import transfer
from mediavault.storage.database import migrate
from mediavault.wiring import build_stores
from tests.backends import backend_env
from tests.e2e.test_search_custom_values import derived_rows, rows_of_library
from tests.support import TEST_KEY, ServerProcess

AUTH = (TEST_KEY, "")


def _upload(client: ImageKit, content: bytes, folder: str, name: str, **kw: Any) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def _found(server: ServerProcess, search: str) -> set[str]:
    """The file ids a search of current files returns."""
    answer = httpx.get(
        f"{server.base_url}/v1/files",
        params={"searchQuery": search, "limit": "1000"},
        auth=AUTH,
    )
    assert answer.status_code == 200, answer.text
    return {item["fileId"] for item in answer.json()}


def _consistent(settings: Settings) -> None:
    stores = build_stores(settings)
    try:
        assert rows_of_library(stores.meta.engine) == derived_rows(stores.meta.engine)
    finally:
        stores.close()


def _wait_completed(client: ImageKit, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while client.folders.job.get(job_id).status != "Completed":
        assert time.monotonic() < deadline, f"job {job_id} still pending"
        time.sleep(0.1)


def test_every_write_keeps_the_rows(
    client: ImageKit, server: ServerProcess, folder: str, tmp_path: Path
) -> None:
    brand, other = f"b{uuid.uuid4().hex[:10]}", f"o{uuid.uuid4().hex[:10]}"
    by_brand = f'"customMetadata.brand" = "{brand}"'
    by_other = f'"customMetadata.brand" = "{other}"'
    by_price = f'"customMetadata.brand" : "{brand[:6]}" AND "customMetadata.price" >= 5'

    def check(expected: set[str], expected_other: set[str] | None = None) -> None:
        _consistent(server.settings)
        assert _found(server, by_brand) == expected
        if expected_other is not None:
            assert _found(server, by_other) == expected_other

    # Upload with custom metadata; then a new version with other metadata.
    a = _upload(
        client, b"a1", folder, "a.txt", custom_metadata={"brand": brand, "price": 5, "c": True}
    )
    check({a.file_id}, set())
    assert _found(server, by_price) == {a.file_id}
    a2 = _upload(client, b"a2", folder, "a.txt", custom_metadata={"brand": other})
    assert a2.file_id == a.file_id
    check(set(), {a.file_id})

    # An upload without custom metadata, then given some; bulk tag edits keep it.
    plain = _upload(client, b"p", folder, "p.txt")
    check(set(), {a.file_id})
    client.files.update(plain.file_id, custom_metadata={"brand": brand, "price": 7})
    check({plain.file_id}, {a.file_id})
    assert _found(server, by_price) == {plain.file_id}
    client.files.bulk.add_tags(file_ids=[plain.file_id, a.file_id], tags=["t"])
    check({plain.file_id}, {a.file_id})
    client.files.bulk.remove_tags(file_ids=[plain.file_id], tags=["t"])
    check({plain.file_id}, {a.file_id})
    client.files.update(plain.file_id, custom_metadata={"price": 1})
    check({plain.file_id} if _has_brand(client, plain.file_id, brand) else set(), {a.file_id})
    client.files.update(plain.file_id, custom_metadata={"brand": brand, "price": 7})
    check({plain.file_id}, {a.file_id})

    # The first version of a.txt made current again.
    client.files.versions.restore(a.version_info.id, file_id=a.file_id)
    check({plain.file_id, a.file_id}, set())

    # Copy with versions (new version rows), move and rename (the same ids).
    client.files.copy(
        source_file_path=f"{folder}/a.txt",
        destination_path=f"{folder}/copy",
        include_file_versions=True,
    )
    copied = client.assets.list(path=f"{folder}/copy/")[0].file_id
    check({plain.file_id, a.file_id, copied}, set())
    client.files.move(source_file_path=f"{folder}/p.txt", destination_path=f"{folder}/moved")
    client.files.rename(file_path=f"{folder}/a.txt", new_file_name="renamed.txt")
    check({plain.file_id, a.file_id, copied}, set())

    # The folder jobs.
    started = client.folders.copy(
        source_folder_path=f"{folder}/copy",
        destination_path=f"{folder}/jobs",
        include_versions=True,
    )
    _wait_completed(client, started.job_id)
    job_copy = client.assets.list(path=f"{folder}/jobs/copy/")[0].file_id
    check({plain.file_id, a.file_id, copied, job_copy}, set())
    started = client.folders.move(
        source_folder_path=f"{folder}/moved", destination_path=f"{folder}/jobs"
    )
    _wait_completed(client, started.job_id)
    started = client.folders.rename(folder_path=f"{folder}/jobs", new_folder_name="renamed")
    _wait_completed(client, started.job_id)
    check({plain.file_id, a.file_id, copied, job_copy}, set())

    # A version deleted; a file into the trash and back; into the trash and purged.
    client.files.versions.delete(a2.version_info.id, file_id=a.file_id)
    check({plain.file_id, a.file_id, copied, job_copy}, set())
    client.files.delete(plain.file_id)
    check({a.file_id, copied, job_copy}, set())
    restored = httpx.post(f"{server.base_url}/v1/trash/{plain.file_id}/restore", auth=AUTH)
    assert restored.status_code < 300, restored.text
    check({plain.file_id, a.file_id, copied, job_copy}, set())
    client.files.delete(copied)
    purged = httpx.delete(f"{server.base_url}/v1/trash/{copied}", auth=AUTH)
    assert purged.status_code < 300, purged.text
    check({plain.file_id, a.file_id, job_copy}, set())

    # Export, and import into a new library: the rows come from the versions imported.
    transfer_source = build_stores(server.settings)
    target_settings = Settings.from_env(backend_env(), data=tmp_path / "target")
    target = build_stores(target_settings)
    try:
        transfer.export_library(transfer_source, tmp_path / "export")
        migrate(target.meta.engine)
        transfer.import_library(target, tmp_path / "export")
        imported = rows_of_library(target.meta.engine)
        assert imported == rows_of_library(transfer_source.meta.engine)
        assert {r[0] for r in imported} >= {plain.version_info.id}
    finally:
        target.close()
        transfer_source.close()
    _consistent(target_settings)


def _has_brand(client: ImageKit, file_id: str, brand: str) -> bool:
    """Whether a details update that does not name the field left it (merge or replace)."""
    return (client.files.get(file_id).custom_metadata or {}).get("brand") == brand
