"""The versioning rules through the service layer, on a real SQLite file and blob folder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.domain.versioning import DetailsUpdate, UploadOptions
from mediavault.errors import (
    AssetNotFound,
    CannotDeleteCurrentVersion,
    FileAlreadyExists,
    FileNotFound,
    VersionLimitReached,
    VersionNotFound,
)
from mediavault.media.probe import probe
from mediavault.services import files, uploads, versions
from mediavault.services.garbage import collecting_garbage
from mediavault.services.stores import Stores
from mediavault.storage.database import migrate
from mediavault.wiring import build_stores
from tests.support import blob_files, check_invariants

SAME_PATH = UploadOptions(use_unique_file_name=False)


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    settings = Settings.from_env({}, data=tmp_path, max_versions_per_file=5)
    built = build_stores(settings)
    migrate(built.meta.engine)
    return built


@pytest.fixture
def put(stores: Stores) -> Callable[..., object]:
    def put(content: bytes, name: str = "a.txt", options: UploadOptions = SAME_PATH):
        writer = stores.blobs.stage(1 << 30)
        writer.write(content)
        staged = writer.finish()
        info = probe(staged.path, staged.head, staged.digest, staged.size)
        target = uploads.UploadTarget(file_name=name, folder="/f")
        return uploads.upload(stores, staged, info, target, options)

    return put


def names(stores: Stores, file_id: str) -> list[tuple[str, bool]]:
    return [(v.version.name, v.version.is_current) for v in versions.list_versions(stores, file_id)]


def test_a_new_path_makes_version_1_with_the_file_id(stores: Stores, put) -> None:
    first = put(b"one")
    assert first.version.id == first.file.id and first.version.number == 1
    assert first.file.file_path == "/f/a.txt"


def test_uploads_to_the_same_path_stack_versions(stores: Stores, put, tmp_path: Path) -> None:
    first = put(b"one")
    second = put(b"two")
    assert second.file.id == first.file.id and second.version.number == 2
    assert names(stores, first.file.id) == [("Version 2", True), ("Version 1", False)]
    check_invariants(tmp_path)


def test_numbers_are_never_reused(stores: Stores, put) -> None:
    file_id = put(b"1").file.id
    put(b"2")
    third = put(b"3")
    versions.restore_version(stores, file_id, file_id)
    versions.delete_version(stores, file_id, third.version.id)
    assert put(b"4").version.number == 4
    assert names(stores, file_id) == [
        ("Version 4", True),
        ("Version 2", False),
        ("Version 1", False),
    ]


def test_restore_promotes_in_place(stores: Stores, put) -> None:
    file_id = put(b"1").file.id
    second = put(b"2")
    restored = versions.restore_version(stores, file_id, file_id)
    assert restored.version.id == file_id and restored.version.is_current
    assert names(stores, file_id) == [("Version 1", True), ("Version 2", False)]
    again = versions.restore_version(stores, file_id, file_id)
    assert again.updated_at == restored.updated_at
    assert files.get_details(stores, file_id).version.content.size == 1
    assert versions.get_version(stores, file_id, second.version.id).version.is_current is False


def test_deleting_the_current_version_is_refused_and_changes_nothing(stores: Stores, put) -> None:
    file_id = put(b"1").file.id
    second = put(b"2")
    with pytest.raises(CannotDeleteCurrentVersion):
        versions.delete_version(stores, file_id, second.version.id)
    assert len(versions.list_versions(stores, file_id)) == 2


def test_unknown_ids_raise_the_right_not_found(stores: Stores, put) -> None:
    file_id = put(b"1").file.id
    unknown = "0" * 24
    with pytest.raises(AssetNotFound):
        versions.list_versions(stores, unknown)
    with pytest.raises(FileNotFound):
        versions.restore_version(stores, unknown, file_id)
    with pytest.raises(VersionNotFound):
        versions.restore_version(stores, file_id, unknown)


def test_a_refused_upload_leaves_no_trace(stores: Stores, put, tmp_path: Path) -> None:
    put(b"kept")
    before = blob_files(tmp_path)
    with pytest.raises(FileAlreadyExists):
        put(b"refused", options=UploadOptions(use_unique_file_name=False, overwrite_file=False))
    assert blob_files(tmp_path) == before
    assert list((tmp_path / "blobs" / ".staging").iterdir()) == []
    check_invariants(tmp_path)


def test_the_version_limit_holds(stores: Stores, put) -> None:
    for i in range(5):
        put(str(i).encode())
    with pytest.raises(VersionLimitReached):
        put(b"sixth")


def test_update_details_creates_no_version(stores: Stores, put) -> None:
    file_id = put(b"1").file.id
    updated = files.update_details(stores, file_id, DetailsUpdate(tags=["x"]))
    assert updated.version.metadata.tags == ["x"] and updated.version.number == 1
    assert len(versions.list_versions(stores, file_id)) == 1


def test_blobs_are_shared_and_freed_with_their_last_reference(
    stores: Stores, put, tmp_path: Path
) -> None:
    a = put(b"same", name="a.txt")
    b = put(b"same", name="b.txt")
    assert len(blob_files(tmp_path)) == 1
    files.delete_file(stores, a.file.id)
    assert len(blob_files(tmp_path)) == 1
    files.bulk_delete(stores, [b.file.id])
    assert blob_files(tmp_path) == {}
    check_invariants(tmp_path)


def test_a_failed_transaction_puts_trashed_blobs_back(stores: Stores, put, tmp_path: Path) -> None:
    item = put(b"precious")
    with (
        pytest.raises(RuntimeError),
        collecting_garbage(stores) as garbage,
        stores.meta.write() as tx,
    ):
        garbage.collect(tx, tx.delete_files([item.file.id]))
        assert blob_files(tmp_path) == {}
        raise RuntimeError("crash before commit")
    assert files.get_details(stores, item.file.id).version.content.size == 8
    check_invariants(tmp_path)


def test_recovery_sorts_out_trash_left_by_a_crash(stores: Stores, put, tmp_path: Path) -> None:
    kept = put(b"referenced")
    doomed = put(b"unreferenced", name="gone.txt")
    trash = tmp_path / "blobs" / ".trash"
    kept_blob = stores.blobs.path(kept.version.content.digest)
    kept_blob.rename(trash / f"{kept.version.content.digest}.dead")
    with stores.meta.write() as tx:
        tx.delete_files([doomed.file.id])
        tx.drop_unreferenced_blobs([doomed.version.content.digest])
    stores.blobs.path(doomed.version.content.digest).rename(
        trash / f"{doomed.version.content.digest}.beef"
    )
    (tmp_path / "blobs" / ".staging" / "half-written").write_bytes(b"partial")
    with stores.meta.read() as tx:
        stores.blobs.recover(tx.blob_is_recorded)
    assert kept_blob.read_bytes() == b"referenced"
    assert list(trash.iterdir()) == []
    assert list((tmp_path / "blobs" / ".staging").iterdir()) == []
    check_invariants(tmp_path)


def test_concurrent_uploads_get_distinct_numbers(stores: Stores, put, tmp_path: Path) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def upload(i: int) -> None:
        try:
            results.append(put(f"v{i}".encode()).version.number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3, 4, 5]
    check_invariants(tmp_path)
