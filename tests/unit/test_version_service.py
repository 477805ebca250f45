"""The versioning rules through the service layer, on a real SQLite file and blob folder."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.domain.models import Version
from mediavault.domain.versioning import DetailsUpdate, UploadOptions
from mediavault.errors import (
    AssetNotFound,
    CannotDeleteCurrentVersion,
    FileAlreadyExists,
    FileNotFound,
    VersionLimitReached,
    VersionNotFound,
    WriteConflict,
)
from mediavault.media.probe import probe
from mediavault.services import files, uploads, versions
from mediavault.services.garbage import collect_abandoned, collecting_garbage
from mediavault.services.stores import Stores
from mediavault.storage.blob_queries import BlobLease
from mediavault.storage.blobs import StagedBlob
from mediavault.storage.database import migrate
from mediavault.storage.lookups import Lookups, through_connection
from mediavault.storage.metadata import Transaction
from mediavault.wiring import build_stores
from tests.backends import backend_env
from tests.support import blob_files, check_invariants, staging_count

SAME_PATH = UploadOptions(use_unique_file_name=False)
FAR = 2**62  # a lease that does not expire during a test
DEAD_OWNER = 1  # no process registers as owner 1 in these tests' fresh libraries


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No trash: these rules are about deletion itself (tests/e2e/test_trash.py has the trash).
    return Settings.from_env(backend_env(), data=tmp_path, max_versions_per_file=5, trash_days=0)


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    built = build_stores(settings)
    migrate(built.meta.engine)
    yield built
    built.close()


@pytest.fixture
def put(stores: Stores) -> Callable[..., object]:
    def put(content: bytes, name: str = "a.txt", options: UploadOptions = SAME_PATH):
        writer = stores.blobs.stage(1 << 30)
        writer.write(content)
        staged = writer.finish()
        info = probe(
            lambda: stores.blobs.open_staged(staged), staged.head, staged.digest, staged.size
        )
        target = uploads.UploadTarget(file_name=name, folder="/f")
        return uploads.upload(stores, staged, info, target, options)

    return put


def names(stores: Stores, file_id: str) -> list[tuple[str, bool]]:
    return [(v.version.name, v.version.is_current) for v in versions.list_versions(stores, file_id)]


def test_a_new_path_makes_version_1_with_the_file_id(stores: Stores, put) -> None:
    first = put(b"one")
    assert first.version.id == first.file.id and first.version.number == 1
    assert first.file.file_path == "/f/a.txt"


def test_uploads_to_the_same_path_stack_versions(stores: Stores, put, settings: Settings) -> None:
    first = put(b"one")
    second = put(b"two")
    assert second.file.id == first.file.id and second.version.number == 2
    assert names(stores, first.file.id) == [("Version 2", True), ("Version 1", False)]
    check_invariants(settings)


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


def test_a_refused_upload_leaves_no_trace(stores: Stores, put, settings: Settings) -> None:
    put(b"kept")
    before = blob_files(settings)
    with pytest.raises(FileAlreadyExists):
        put(b"refused", options=UploadOptions(use_unique_file_name=False, overwrite_file=False))
    assert blob_files(settings) == before
    assert staging_count(settings) == 0
    check_invariants(settings)


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
    stores: Stores, put, settings: Settings
) -> None:
    a = put(b"same", name="a.txt")
    b = put(b"same", name="b.txt")
    assert len(blob_files(settings)) == 1
    files.delete_file(stores, a.file.id)
    assert len(blob_files(settings)) == 1
    files.bulk_delete(stores, [b.file.id])
    assert blob_files(settings) == {}
    check_invariants(settings)


def test_a_failed_transaction_deletes_no_blob(stores: Stores, put, settings: Settings) -> None:
    item = put(b"precious")
    with (
        pytest.raises(RuntimeError),
        collecting_garbage(stores) as garbage,
        stores.meta.write() as tx,
    ):
        garbage.collect(tx, tx.delete_files([item.file.id]))
        raise RuntimeError("crash before commit")
    assert files.get_details(stores, item.file.id).version.content.size == 8
    check_invariants(settings)


def test_what_a_dead_process_left_is_collected(stores: Stores, put, settings: Settings) -> None:
    doomed = put(b"unreferenced", name="gone.txt")
    other = build_stores(settings)  # another process on the same library
    with other.meta.write() as tx:  # its phase one committed, phase two never ran
        tx.mark_unreferenced_blobs(tx.delete_files([doomed.file.id]), other.liveness.owner, FAR)
    leftover = other.blobs.stage(100)
    leftover.write(b"an upload that never got its version")
    leftover.finish()  # (an object store lists an object only once its upload completed)
    assert collect_abandoned(stores).blobs == 0  # alive: its work is left alone
    assert doomed.version.content.digest in blob_files(settings)
    assert staging_count(settings) == 1
    other.close()  # the process dies
    collected = collect_abandoned(stores)
    assert (collected.blobs, collected.staging) == (1, 1)
    assert blob_files(settings) == {} and staging_count(settings) == 0
    check_invariants(settings)


def test_an_expired_deletion_lease_or_staging_grace_ends_the_wait(
    stores: Stores, put, settings: Settings
) -> None:
    doomed = put(b"unreferenced", name="gone.txt")
    other = build_stores(settings)
    try:
        with other.meta.write() as tx:
            tx.mark_unreferenced_blobs(tx.delete_files([doomed.file.id]), other.liveness.owner, 1)
        stalled = other.blobs.stage(100)
        stalled.write(b"an upload that stalled before its version")
        stalled.finish()
        impatient = dataclasses.replace(stores, staging_grace_ms=0)
        time.sleep(0.01)
        collected = collect_abandoned(impatient)
        assert (collected.blobs, collected.staging) == (1, 1)
    finally:
        other.close()
    check_invariants(settings)


def test_a_lease_keeps_bytes_that_a_concurrent_deletion_wants(
    stores: Stores, put, settings: Settings
) -> None:
    first = put(b"shared bytes", name="a.txt")
    digest = first.version.content.digest
    lease = BlobLease("l" * 32, digest, stores.liveness.owner, FAR)
    with stores.meta.write() as tx:  # an upload of the same bytes leased them ...
        assert tx.lease_blob(lease, 12, 1) is False
    files.delete_file(stores, first.file.id)  # ... when the last version using them went
    assert digest in blob_files(settings)
    assert collect_abandoned(stores).blobs == 0  # the lease's owner lives
    with stores.meta.write() as tx:  # the upload commits its version
        assert tx.claim_blob(digest, 12, 2, lease.id) is True
    assert blob_files(settings) == {digest: 12}
    again = put(b"shared bytes", name="b.txt")
    assert again.version.content.digest == digest
    check_invariants(settings)


def test_a_conflict_after_the_commit_does_not_undo_a_delete(
    stores: Stores, put, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = put(b"delete me", name="a.txt")
    calls = []

    def conflicting_delete(digest: str) -> None:
        calls.append(digest)
        raise WriteConflict()

    monkeypatch.setattr(stores.blobs, "delete", conflicting_delete)
    files.delete_file(stores, item.file.id)  # no exception: the delete was committed
    assert len(calls) == 1  # and it was not run again by the retry
    with pytest.raises(FileNotFound):
        files.get_details(stores, item.file.id)
    monkeypatch.undo()
    assert item.version.content.digest in blob_files(settings)  # the collector's, later
    with stores.meta.write() as tx:  # as if the deletion lease had run out
        tx.mark_unreferenced_blobs([], stores.liveness.owner, 0)
        tx._db.exec_driver_sql("UPDATE blobs SET marked_until = 0")
    assert collect_abandoned(stores).blobs == 1
    check_invariants(settings)


def test_a_retried_upload_transaction_publishes_once(
    stores: Stores, put, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = []
    publish = stores.blobs.publish

    def counting_publish(staged: StagedBlob, overwrite: bool) -> None:
        published.append(staged.digest)
        publish(staged, overwrite)

    monkeypatch.setattr(stores.blobs, "publish", counting_publish)
    insert_version = Transaction.insert_version
    conflicts = [WriteConflict()]

    def insert_losing_one_race(tx: Transaction, version: Version) -> None:
        if conflicts:
            raise conflicts.pop()
        insert_version(tx, version)

    monkeypatch.setattr(Transaction, "insert_version", insert_losing_one_race)
    stored = put(b"retried", name="r.txt")
    assert conflicts == [] and published == [stored.version.content.digest]
    monkeypatch.undo()
    assert files.get_details(stores, stored.file.id).version.content.size == 7
    check_invariants(settings)


def test_an_upload_rewrites_bytes_whose_deletion_was_under_way(
    stores: Stores, put, settings: Settings
) -> None:
    first = put(b"same bytes", name="a.txt")
    digest = first.version.content.digest
    with stores.meta.write() as tx:
        tx.mark_unreferenced_blobs(tx.delete_files([first.file.id]), DEAD_OWNER, FAR)
    stores.blobs.delete(digest)  # the crash came after the bytes went, before the row did
    again = put(b"same bytes", name="b.txt")
    assert again.version.content.digest == digest
    collect_abandoned(stores)  # the row is live again: nothing is deleted
    assert blob_files(settings) == {digest: 10}
    check_invariants(settings)


def test_concurrent_uploads_get_distinct_numbers(stores: Stores, put, settings: Settings) -> None:
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
    check_invariants(settings)


def test_lookups_read_the_same_records_as_a_sqlalchemy_connection(stores: Stores, put) -> None:
    """On SQLite the hot lookups run precompiled on raw sqlite3; they must read alike."""
    first = put(b"one")
    put(b"two")
    files.update_details(stores, first.file.id, DetailsUpdate(tags=["x", "y"], description="d"))
    file_id = first.file.id
    with stores.meta.engine.connect() as connection:
        reference = Lookups(through_connection(connection))
        expected = (
            reference.versions(file_id),
            reference.current(file_id),
            reference.version(file_id, first.version.id),
        )
    with stores.meta.lookups() as lookups:
        found = (
            lookups.versions(file_id),
            lookups.current(file_id),
            lookups.version(file_id, first.version.id),
        )
    assert found == expected
    assert found[1] is not None and found[1].version.metadata.tags == ["x", "y"]
    assert [item.version.number for item in found[0]] == [2, 1]
    # Equality would take 1 for True: the raw path must convert types as SQLAlchemy does.
    for item in found[0]:
        assert type(item.version.is_current) is bool
        assert type(item.version.metadata.is_published) is bool


def test_bytes_published_by_an_upload_refused_in_its_transaction_are_removed(
    stores: Stores, put, settings: Settings
) -> None:
    """The version limit is checked in the version's transaction, after publishing."""
    for n in range(5):
        put(f"version {n}".encode())
    before = blob_files(settings)
    with pytest.raises(VersionLimitReached):
        put(b"one version too many")
    assert blob_files(settings) == before
    with stores.meta.read() as tx:
        assert tx.blob_leases() == [] and tx.unfinished_blobs() == []
    check_invariants(settings)
