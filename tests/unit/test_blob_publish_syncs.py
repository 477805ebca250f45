"""Which directories LocalBlobStore.publish syncs (storage/blobs.py): every directory on a
blob's path is durable before publish returns, and a directory this process knows durable is
not synced again; a staging file leaves nothing behind, with no system call it does not need.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from mediavault.storage import blobs as blobs_module
from mediavault.storage.blobs import LocalBlobStore, StagedBlob, blob_key


class Syncs:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.root = root
        self.synced: list[str] = []
        self._lock = threading.Lock()
        real = blobs_module.fsync_dir

        def fsync_dir(path: str | os.PathLike[str]) -> None:
            real(path)
            with self._lock:
                self.synced.append(os.path.relpath(path, root))

        monkeypatch.setattr(blobs_module, "fsync_dir", fsync_dir)

    def take(self) -> list[str]:
        with self._lock:
            taken, self.synced = sorted(self.synced), []
        return taken


def _content_in(prefix: str) -> bytes:
    """Bytes whose digest starts with `prefix` (hex), found by trying."""
    n = 0
    while True:
        data = f"{prefix}-{n}".encode()
        if hashlib.sha256(data).hexdigest().startswith(prefix):
            return data
        n += 1


def _staged(store: LocalBlobStore, data: bytes) -> StagedBlob:
    writer = store.stage(len(data))
    writer.write(data)
    return writer.finish()


def _publish(store: LocalBlobStore, data: bytes) -> StagedBlob:
    staged = _staged(store, data)
    store.publish(staged, overwrite=False)
    store.discard(staged)
    return staged


def test_a_new_shard_syncs_its_parents_and_a_known_one_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    syncs = Syncs(monkeypatch, tmp_path)
    first = _publish(store, _content_in("ab1"))
    assert syncs.take() == ["sha256", "sha256/ab", "sha256/ab/1" + first.digest[3]]
    assert (tmp_path / blob_key(first.digest)).is_file()
    _publish(store, _content_in("ab1"))  # the same shard: only the blob's directory
    assert syncs.take() == ["sha256/ab/1" + first.digest[3]]
    # Another new shard under sha256/ab, known durable now: its entry there, not sha256/'s.
    other = _publish(store, _content_in("ab2"))
    assert syncs.take() == ["sha256/ab", "sha256/ab/2" + other.digest[3]]


def test_shards_that_exist_are_durable_after_their_parent_is_listed_and_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library's shard directories, made by another process (durable or not): the first
    publish under sha256/ab syncs sha256/ab and sha256/ after listing them, which makes every
    shard seen durable; a shard made after the listing is synced into its parent again."""
    for shard in ("cd/00", "cd/01", "cd/02", "ef/00"):
        (tmp_path / "sha256" / shard).mkdir(parents=True)
    store = LocalBlobStore(tmp_path)
    syncs = Syncs(monkeypatch, tmp_path)
    first = _publish(store, _content_in("cd00"))
    assert syncs.take() == ["sha256", "sha256/cd", "sha256/cd/00"]
    assert first.digest.startswith("cd00")
    _publish(store, _content_in("cd01"))  # listed before sha256/cd was synced
    assert syncs.take() == ["sha256/cd/01"]
    # sha256/ef was listed before sha256/ was synced: its entry is durable, its shards not
    # known yet (sha256/ef itself never listed).
    _publish(store, _content_in("ef00"))
    assert syncs.take() == ["sha256/ef", "sha256/ef/00"]
    # Another process makes a shard after the listing: its entry is synced before use.
    (tmp_path / "sha256" / "cd" / "03").mkdir()
    _publish(store, _content_in("cd03"))
    assert syncs.take() == ["sha256/cd", "sha256/cd/03"]
    # And a new sha256/ab made since: sha256/ is synced again for it.
    _publish(store, _content_in("7a"))
    assert syncs.take()[0:2] == ["sha256", "sha256/7a"]


def test_nothing_is_known_durable_when_a_sync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    real = blobs_module.fsync_dir
    failing = [True]

    def fsync_dir(path: str | os.PathLike[str]) -> None:
        if failing[0] and os.path.basename(path) == "sha256":
            raise OSError(5, "I/O error")
        real(path)

    monkeypatch.setattr(blobs_module, "fsync_dir", fsync_dir)
    data = _content_in("12")
    staged = _staged(store, data)
    with pytest.raises(OSError):
        store.publish(staged, overwrite=False)
    store.discard(staged)
    failing[0] = False
    syncs = Syncs(monkeypatch, tmp_path)
    _publish(store, data)  # everything on its path is synced again
    assert syncs.take()[:2] == ["sha256", "sha256/12"]


def test_discard_after_publish_removes_nothing_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    unlinked: list[str] = []
    real_unlink = os.unlink

    def unlink(path: str, *args: object, **kwargs: object) -> None:
        unlinked.append(str(path))
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", unlink)
    staged = _staged(store, b"published once")
    store.publish(staged, overwrite=False)
    store.discard(staged)
    assert unlinked == []  # renamed into place: no staging file to remove
    duplicate = _staged(store, b"published once")
    store.publish(duplicate, overwrite=False)
    store.discard(duplicate)
    assert unlinked == [duplicate.location]  # the duplicate's staging file, once
    assert store.staging_count() == 0
    assert (tmp_path / blob_key(staged.digest)).read_bytes() == b"published once"
    # Not published: discard removes the staging file.
    dropped = _staged(store, b"never published")
    store.discard(dropped)
    assert unlinked[-1] == dropped.location and store.staging_count() == 0


def test_a_writer_closed_cannot_write_into_another_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    writer = store.stage(100)
    writer.write(b"x")
    staged = writer.finish()
    with pytest.raises(OSError):
        writer.write(b"after the end")
    store.discard(staged)
    assert store.staging_count() == 0


def test_an_aborted_or_dropped_sink_closes_its_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    writer = store.stage(100)
    writer.write(b"x")
    writer.abort()
    assert store.staging_count() == 0
    dropped = store.stage(100)
    dropped._sink.write(b"y")
    del dropped
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before
