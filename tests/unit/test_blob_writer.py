"""The staging writer: a full disk is an answer to the client, and leaves nothing behind."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from mediavault.errors import StorageFull
from mediavault.storage.blobs import BlobWriter, LocalBlobStore


class _FullDisk:
    """A sink on a disk that fills up after `room` bytes (the one fake: ENOSPC on demand)."""

    def __init__(self, room: int, fail_on_close: bool = False) -> None:
        self.room, self.fail_on_close = room, fail_on_close
        self.aborted = False

    def write(self, data: bytes) -> object:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    def close(self) -> None:
        if self.fail_on_close:
            raise OSError(errno.ENOSPC, "No space left on device")

    def abort(self) -> None:
        self.aborted = True


@pytest.mark.parametrize("fail_on_close", [False, True])
def test_no_space_left_is_storage_full_and_the_staging_object_goes(
    tmp_path: Path, fail_on_close: bool
) -> None:
    store = LocalBlobStore(tmp_path)
    # A real staging file, written through a sink whose disk is full: it must be removed.
    location = store.stage(1 << 20)._location  # type: ignore[attr-defined]
    assert store.staging_count() == 1
    sink = _FullDisk(room=10 if not fail_on_close else 1 << 20, fail_on_close=fail_on_close)
    writer = BlobWriter(location, sink, 1 << 20, store)
    with pytest.raises(StorageFull):
        writer.write(b"x" * 64)
        writer.finish()
    assert sink.aborted
    assert store.staging_count() == 0


def test_other_os_errors_are_not_mistaken_for_a_full_disk(tmp_path: Path) -> None:
    class Broken(_FullDisk):
        def write(self, data: bytes) -> object:
            raise OSError(errno.EIO, "I/O error")

    store = LocalBlobStore(tmp_path)
    writer = BlobWriter("unused", Broken(0), 1 << 20, store)
    with pytest.raises(OSError) as raised:
        writer.write(b"x")
    assert raised.value.errno == errno.EIO and not isinstance(raised.value, StorageFull)
