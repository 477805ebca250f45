"""The staging file's fsync runs in another thread after BlobWriter.finish (storage/blobs.py):
publish waits for it before the rename, discard before the unlink, and its error is raised once.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

from mediavault.errors import StorageFull
from mediavault.storage import blobs as blobs_module
from mediavault.storage.blobs import LocalBlobStore, StagedBlob, blob_key, fsync_dirs

DATA = b"ten bytes!" * 100


def _staged(store: LocalBlobStore, data: bytes = DATA) -> StagedBlob:
    writer = store.stage(len(data))
    writer.write(data)
    return writer.finish()


def test_publish_waits_for_the_sync_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    release = threading.Event()
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def slow_fsync(fd: int) -> None:
        if threading.current_thread().name.startswith("mv-fsync") and not release.is_set():
            release.wait(5)
            events.append("data synced")
        real_fsync(fd)

    def replace(source: str, target: os.PathLike[str]) -> None:
        events.append("renamed")
        real_replace(source, target)

    monkeypatch.setattr(blobs_module.os, "fsync", slow_fsync)
    monkeypatch.setattr(blobs_module.os, "replace", replace)
    staged = _staged(store)
    assert staged.pending_sync is not None
    publishing = threading.Thread(target=store.publish, args=(staged, False))
    publishing.start()
    publishing.join(0.2)
    assert publishing.is_alive() and events == []  # waiting for the data's sync
    release.set()
    publishing.join(5)
    assert events == ["data synced", "renamed"]
    assert (tmp_path / blob_key(hashlib.sha256(DATA).hexdigest())).read_bytes() == DATA


def _failing_sync(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(blobs_module.os, "fsync", fsync)


def test_a_full_disk_at_the_sync_fails_the_publish_and_leaves_no_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    _failing_sync(monkeypatch, errno.ENOSPC)
    staged = _staged(store)
    with pytest.raises(StorageFull):
        store.publish(staged, overwrite=False)
    assert store.size(staged.digest) is None
    store.discard(staged)  # the error was given to publish: not again
    assert store.staging_count() == 0


def test_discard_raises_an_error_nobody_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the readiness probe relies on: stage, finish, discard fails when fsync does."""
    store = LocalBlobStore(tmp_path)
    _failing_sync(monkeypatch, errno.EIO)
    staged = _staged(store)
    with pytest.raises(OSError) as raised:
        store.discard(staged)
    assert raised.value.errno == errno.EIO
    assert store.staging_count() == 0  # removed all the same
    store.discard(staged)  # once only


def test_fsync_dirs_syncs_every_directory_and_raises_the_first_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directories = [tmp_path / name for name in "abc"]
    for each in directories:
        each.mkdir()
    synced: list[Path] = []
    lock = threading.Lock()

    def fsync_dir(path: Path) -> None:
        with lock:
            synced.append(path)
        if path.name == "b":
            raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(blobs_module, "fsync_dir", fsync_dir)
    with pytest.raises(OSError):
        fsync_dirs(directories)
    assert sorted(synced) == directories  # all were synced, the failure notwithstanding
