"""One contract, every blob store: local disk always, S3 when the suite runs on it."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.errors import BlobMissing, FileTooLarge
from mediavault.storage.blobs import BlobStore
from mediavault.wiring import build_blob_store

S3 = os.environ.get("MEDIAVAULT_TEST_BLOB_URL")


@pytest.fixture(
    params=["local", pytest.param("s3", marks=pytest.mark.skipif(not S3, reason="no S3"))]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return owned_store(request, tmp_path, owner=0)


def owned_store(request: pytest.FixtureRequest, tmp_path: Path, owner: int) -> BlobStore:
    if request.node.callspec.params["store"] == "local":
        settings = Settings.from_env({}, data=tmp_path)
    else:
        settings = Settings.from_env(
            {
                "MEDIAVAULT_BLOB_URL": f"{S3}/{secrets.token_hex(6)}",
                "MEDIAVAULT_S3_ENDPOINT": os.environ.get("MEDIAVAULT_TEST_S3_ENDPOINT", ""),
                "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
                "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            },
            data=tmp_path,
        )
    return build_blob_store(settings, owner=owner)


def stage(store: BlobStore, content: bytes, chunk: int = 7):
    writer = store.stage(len(content) + 10)
    for start in range(0, len(content), chunk):
        writer.write(content[start : start + chunk])
    return writer.finish()


def test_staging_hashes_and_publishing_stores_by_digest(store: BlobStore) -> None:
    content = os.urandom(3 * 1024 * 1024 + 5)
    staged = stage(store, content, chunk=1 << 20)
    assert staged.digest == hashlib.sha256(content).hexdigest()
    assert staged.size == len(content) and staged.head == content[: len(staged.head)]
    assert store.staging_count() == 1 and store.size(staged.digest) is None
    with store.open_staged(staged) as reader:
        assert reader.read(10) == content[:10]
    store.publish(staged, overwrite=False)
    assert store.staging_count() == 0
    assert store.size(staged.digest) == len(content)
    with store.open(staged.digest) as reader:
        reader.seek(100)
        assert reader.read(50) == content[100:150]
    assert (
        b"".join(store.read_range(staged.digest, 5, 1024 * 1024 + 9))
        == content[5 : 1024 * 1024 + 9]
    )
    assert dict(store.digests()) == {staged.digest: len(content)}


def test_identical_bytes_are_kept_once_and_overwrite_replaces(store: BlobStore) -> None:
    first = stage(store, b"same bytes")
    store.publish(first, overwrite=False)
    second = stage(store, b"same bytes")
    store.publish(second, overwrite=False)
    assert dict(store.digests()) == {first.digest: 10} and store.staging_count() == 0
    store.delete(first.digest)
    third = stage(store, b"same bytes")
    store.publish(third, overwrite=True)
    with store.open(first.digest) as reader:
        assert reader.read() == b"same bytes"


def test_discard_delete_and_missing_blobs(store: BlobStore) -> None:
    staged = stage(store, b"never published")
    store.discard(staged)
    assert store.staging_count() == 0
    store.discard(staged)  # twice is fine
    store.delete("0" * 64)  # deleting what is not there is fine
    assert store.size("0" * 64) is None
    with pytest.raises(BlobMissing):
        store.open("0" * 64)


def test_an_oversized_stream_is_aborted_and_leaves_nothing(store: BlobStore) -> None:
    writer = store.stage(10)
    writer.write(b"12345")
    with pytest.raises(FileTooLarge):
        writer.write(b"1234567890")
    assert store.staging_count() == 0


def test_staging_objects_name_their_owner_and_can_be_removed_one_by_one(
    store: BlobStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    mine = owned_store(request, tmp_path, owner=4242)
    started = time.time() * 1000
    finished = stage(mine, b"finished but never published")
    listed = {x.location: x for x in mine.staging_objects()}
    assert set(listed) == {finished.location}
    assert listed[finished.location].owner == 4242
    # Object stores keep whole seconds: allow for the rounding.
    assert started - 2000 <= listed[finished.location].modified_ms <= time.time() * 1000 + 2000
    mine.remove_staging(finished.location)
    assert list(mine.staging_objects()) == [] and mine.staging_count() == 0
    with pytest.raises(ValueError):
        mine.remove_staging("sha256/00/00/" + "0" * 64)  # never anything but staging


def test_blobs_beyond_a_server_side_copy_are_published_by_streaming(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mediavault.storage.s3_blobs as s3_blobs

    # Lowered from S3's 5 GiB so that the streaming path runs on a small blob.
    monkeypatch.setattr(s3_blobs, "MAX_SERVER_SIDE_COPY", 1024)
    content = os.urandom(9 * 1024 * 1024 + 1)
    staged = stage(store, content, chunk=1 << 20)
    store.publish(staged, overwrite=False)
    with store.open(staged.digest) as reader:
        assert reader.read() == content
    assert store.staging_count() == 0
