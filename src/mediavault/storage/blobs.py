"""Content-addressed blobs on local disk: `blobs/sha256/ab/cd/<digest>`.

Bytes are streamed into a staging file inside the data folder while they are hashed, fsynced,
and renamed into place only inside the metadata transaction that references them. Deletion
renames a blob into `.trash` inside the transaction that dropped its last reference, and unlinks
it after the commit; a crash in between is undone by `recover()` at the next start.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from mediavault.errors import BlobMissing, FileTooLarge

HEAD_BYTES = 256 * 1024  # enough for MIME sniffing and for image headers


@dataclass(frozen=True)
class StagedBlob:
    path: Path
    digest: str
    size: int
    head: bytes


@dataclass(frozen=True)
class TrashedBlob:
    digest: str
    path: Path


class BlobWriter:
    """Hashes and writes a stream of chunks to a staging file. Synchronous: call it off the loop."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._file: BinaryIO = open(path, "xb")  # noqa: SIM115 - closed in finish()/abort()
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = bytearray()

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            self.abort()
            raise FileTooLarge()
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StagedBlob:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return StagedBlob(self._path, self._hash.hexdigest(), self._size, bytes(self._head))

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class BlobStore(Protocol):
    def stage(self, max_bytes: int) -> BlobWriter: ...
    def publish(self, staged: StagedBlob) -> None: ...
    def discard(self, staged: StagedBlob) -> None: ...
    def path(self, digest: str) -> Path: ...
    def trash(self, digest: str) -> TrashedBlob | None: ...
    def restore(self, trashed: TrashedBlob) -> None: ...
    def purge(self, trashed: TrashedBlob) -> None: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "sha256"
        self._staging = root / ".staging"
        self._trash = root / ".trash"
        for folder in (self._objects, self._staging, self._trash):
            folder.mkdir(parents=True, exist_ok=True)

    def stage(self, max_bytes: int) -> BlobWriter:
        return BlobWriter(self._staging / secrets.token_hex(16), max_bytes)

    def publish(self, staged: StagedBlob) -> None:
        """Make the staged bytes the blob of their digest. Call inside the claiming transaction."""
        final = self.path(staged.digest)
        if _size_or_none(final) == staged.size:
            # Identical bytes are stored once: the same digest is the same content.
            staged.path.unlink(missing_ok=True)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        # rename is atomic within one file system: readers never see half a blob.
        os.replace(staged.path, final)
        _fsync_dir(final.parent)

    def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self._objects / digest[:2] / digest[2:4] / digest

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobMissing() from None

    def trash(self, digest: str) -> TrashedBlob | None:
        target = self._trash / f"{digest}.{secrets.token_hex(4)}"
        try:
            os.replace(self.path(digest), target)
        except FileNotFoundError:
            return None
        return TrashedBlob(digest, target)

    def restore(self, trashed: TrashedBlob) -> None:
        final = self.path(trashed.digest)
        if final.exists():
            trashed.path.unlink(missing_ok=True)
        else:
            os.replace(trashed.path, final)

    def purge(self, trashed: TrashedBlob) -> None:
        trashed.path.unlink(missing_ok=True)

    def recover(self, is_recorded: RecordedCheck) -> None:
        """Finish what a crash interrupted. Run before any worker serves requests."""
        for leftover in self._staging.iterdir():
            leftover.unlink(missing_ok=True)
        for trashed in self._trash.iterdir():
            item = TrashedBlob(trashed.name.split(".")[0], trashed)
            if is_recorded(item.digest):
                # The transaction that trashed it never committed: the blob is still in use.
                self.restore(item)
            else:
                self.purge(item)


class RecordedCheck(Protocol):
    def __call__(self, digest: str) -> bool: ...


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
