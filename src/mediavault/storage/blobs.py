"""Content-addressed blob stores: the interface, the staging writer, and local disk.

Bytes are streamed into a staging object while they are hashed, and published under
`sha256/ab/cd/<digest>` only inside the metadata transaction that references them, after the
blob's row is claimed. Deletion is two-phased (see mediavault.services.garbage): a blob is
deleted only while its row, marked for deletion, is locked and still unreferenced.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import wait
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from mediavault.errors import BlobMissing, FileTooLarge, StorageFull
from mediavault.storage.writeback import start_writeback
from mediavault.threads import ProcessPool

HEAD_BYTES = 256 * 1024  # enough for MIME sniffing and for most image headers
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class StagingObject:
    """A staging object as listed by its store: whose it is and when it last changed."""

    location: str
    owner: int  # the liveness owner number of the process that staged it (0: unknown)
    modified_ms: int


def staging_name(owner: int) -> str:
    # The owner comes first so cleanup can ask whether the process that wrote it still lives.
    return f"{owner}-{secrets.token_hex(16)}"


def staging_owner(name: str) -> int:
    owner, _, rest = name.partition("-")
    return int(owner) if owner.isdigit() and rest else 0


class PendingSync:
    """The fsync of a finished staging file, under way in another thread.

    A staged upload is probed and leased before it is published; its fsync runs meanwhile.
    `publish` waits for it before the rename (so the rule "a blob's data is durable before its
    entry exists" holds as before), `discard` before the unlink. Its error is raised by the
    first of them that waits, once: a readiness probe that stages and discards still fails
    when the disk cannot sync.

    It also remembers whether `publish` moved the staging file away (renamed into place, or
    removed as a duplicate): `discard`, which every upload calls at its end, then has no file
    to remove and makes no system call for it."""

    __slots__ = ("_done", "_lock", "_reported", "moved")

    def __init__(self, fd: int) -> None:
        """Takes over `fd`: closed by the sync's thread once the sync has ended."""
        self._done = _FSYNC_THREADS.get().submit(_sync_and_close, fd)
        self._reported = False
        self._lock = threading.Lock()
        self.moved = False

    def result(self) -> None:
        """Wait for the sync; raise its error (a full disk as StorageFull)."""
        self._raise(always=True)

    def settle(self) -> None:
        """Wait for the sync; raise its error only if nobody has been given it yet."""
        self._raise(always=False)

    def _raise(self, always: bool) -> None:
        error = self._done.exception()
        if error is None:
            return
        with self._lock:
            seen, self._reported = self._reported, True
        if seen and not always:
            return
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from error
        raise error


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StagedBlob:
    location: str  # where the store keeps it until it is published: a path or a key
    digest: str
    size: int
    head: bytes
    # On local disk, the staging file's fsync while it is still under way (see PendingSync).
    pending_sync: PendingSync | None = field(default=None, compare=False, repr=False)


class Sink(Protocol):
    def write(self, data: bytes) -> object: ...
    def close(self) -> object:
        """Durable when this returns, or once the PendingSync it returns has ended."""

    def abort(self) -> None:
        """Give up: nothing may be left stored (an object store must not complete it)."""


class BlobWriter:
    """Hashes a stream of chunks while a sink stores them. Synchronous: call it off the loop."""

    def __init__(self, location: str, sink: Sink, max_bytes: int, store: BlobStore) -> None:
        self._location = location
        self._sink = sink
        self._store = store
        self._max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = bytearray()
        self._closed = False

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            self.abort()
            raise FileTooLarge()
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._hash.update(chunk)
        try:
            self._sink.write(chunk)
        except OSError as exc:
            # A full disk drops the upload and says so (503), instead of an internal error.
            if exc.errno not in _NO_SPACE:
                raise
            self.abort()
            raise StorageFull() from exc

    def finish(self) -> StagedBlob:
        """The staged blob: durable, or (local disk) with its fsync under way, which publish
        waits for."""
        try:
            closed = self._sink.close()  # the completed upload, or the fsync started
        except OSError as exc:
            if exc.errno not in _NO_SPACE:  # as in write
                raise
            self.abort()
            raise StorageFull() from exc
        self._closed = True
        pending = closed if isinstance(closed, PendingSync) else None
        digest = self._hash.hexdigest()
        return StagedBlob(self._location, digest, self._size, bytes(self._head), pending)

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._sink.abort()
            finally:
                self._store.discard(StagedBlob(self._location, "", 0, b""))


class BlobStore(Protocol):
    """Every method blocks: call them in a worker thread."""

    def stage(self, max_bytes: int) -> BlobWriter: ...

    def publish(self, staged: StagedBlob, overwrite: bool) -> None:
        """Make the staged bytes the blob of their digest, or drop them if it already exists
        (always replace with `overwrite`, when the existing object may be on its way out)."""

    def discard(self, staged: StagedBlob) -> None: ...

    def delete(self, digest: str) -> None: ...

    def size(self, digest: str) -> int | None:
        """The stored size, or None when there is no such blob."""

    def open(self, digest: str) -> BinaryIO:
        """A seekable reader; raises BlobMissing."""

    def open_staged(self, staged: StagedBlob) -> BinaryIO: ...

    def local_path(self, digest: str) -> Path | None:
        """The blob's file, when it lives on this machine's disk (for zero-copy sending)."""

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end-1, in chunks."""

    def digests(self) -> Iterator[tuple[str, int]]:
        """Every stored blob with its size."""

    def staging_objects(self) -> Iterator[StagingObject]:
        """Every staging object: uploads in flight, and leftovers of interrupted ones."""

    def remove_staging(self, location: str) -> None:
        """Remove one staging object (cleanup decides which: mediavault.services.garbage)."""

    def staging_count(self) -> int:
        """How many staging objects exist."""


_DIGEST = re.compile("[0-9a-f]{64}")


def blob_key(digest: str) -> str:
    if _DIGEST.fullmatch(digest) is None:
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


# What open(path, "xb") asks for, without the file object around the descriptor.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class _FileSink:
    """The staging file, through its bare descriptor: no file object, and none of the fstat
    that opening one costs."""

    # Writeback is started for every this many bytes written (see mediavault.storage.writeback).
    WRITEBACK_BYTES = 8 * 1024 * 1024

    __slots__ = ("_fd", "_written", "_written_back")

    def __init__(self, path: str) -> None:
        self._fd = -1
        self._fd = os.open(path, _CREATE, 0o666)
        self._written = 0
        self._written_back = 0

    def write(self, data: bytes) -> object:
        # After close or abort the descriptor is -1: a stray write fails (EBADF), it cannot
        # reach whatever file reuses the number.
        done = os.write(self._fd, data)
        if done < len(data):
            view = memoryview(data)[done:]
            while view:  # a write may take only part of the data
                view = view[os.write(self._fd, view) :]
        self._written += len(data)
        if self._written - self._written_back >= self.WRITEBACK_BYTES:
            start_writeback(self._fd, self._written_back, self._written - self._written_back)
            self._written_back = self._written
        return len(data)

    def close(self) -> PendingSync | None:
        """Start the fsync (and the close after it) in another thread."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return None
        return PendingSync(fd)

    def abort(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        # A sink dropped without close or abort (a file object would be closed by its
        # finalizer too).
        if self._fd >= 0:
            self.abort()


class LocalBlobStore:
    def __init__(self, root: Path, owner: int = 0) -> None:
        self.root = root
        self._owner = owner
        self._staging = root / ".staging"
        # Durable entries from the start: a blob is reachable after a power cut only if every
        # directory on its path is (sha256/ even when another process created it just now).
        top = root
        while not top.exists():
            top = top.parent
        make_durable_dirs(root / "sha256", top=top)
        # What this process knows to be durable, so that later publishes cost no extra fsync
        # (shard directories are never removed): one flag per shard directory sha256/ab/cd
        # (its entry in sha256/ab, and sha256/ab's in sha256/, synced after they existed), one
        # per sha256/ab (its entry in sha256/). And whether the subdirectories of sha256/ and
        # of each sha256/ab were listed before a sync of that directory: every one listed was
        # made durable by it, whoever created it, so a library's existing shards cost each
        # process one listing per sha256/ab instead of two fsyncs per shard.
        self._durable_shards = bytearray(256 * 256)
        self._durable_tops = bytearray(256)
        self._listed_tops = bytearray(256)
        self._listed_root = False
        self._staging.mkdir(parents=True, exist_ok=True)
        # Paths as strings, built by concatenation: no Path objects per upload.
        self._sha256 = os.path.join(root, "sha256")
        self._staging_prefix = os.path.join(self._staging, "")

    def stage(self, max_bytes: int) -> BlobWriter:
        location = self._staging_prefix + staging_name(self._owner)
        return BlobWriter(location, _FileSink(location), max_bytes, self)

    def publish(self, staged: StagedBlob, overwrite: bool) -> None:
        """Durable when this returns: the staged data (fsynced by BlobWriter.finish, or in the
        thread it started, waited for here before the rename), the blob's entry and every
        directory on its path, so a version may reference it."""
        pending = staged.pending_sync
        if pending is not None:
            pending.result()
        digest = staged.digest
        blob_key(digest)  # a digest, nothing else, goes into the path
        top = self._sha256 + os.sep + digest[:2]
        shard_dir = top + os.sep + digest[2:4]
        final = shard_dir + os.sep + digest
        shard = int(digest[:4], 16)
        if not self._durable_shards[shard]:
            _make_shard(top, shard_dir)
        if not overwrite and _size_or_none(final) == staged.size:
            # Identical bytes are stored once: the same digest is the same content.
            _unlink_if_there(staged.location)
        else:
            # rename is atomic within one file system: readers never see half a blob.
            os.replace(staged.location, final)
        if pending is not None:
            pending.moved = True
        # The blob's directory also after finding the blob there: another upload may have
        # renamed it in an instant ago and not fsynced its entry yet.
        if self._durable_shards[shard]:
            fsync_dir(shard_dir)
            return
        # For a shard this process has not made durable yet, the parent of every directory
        # on its path too, whoever created it (as make_durable_dirs does): sha256/ab, and
        # sha256/ unless sha256/ab is known durable. Each listed first when it never was, so
        # that the sync covers every subdirectory seen. All after the rename, together: each
        # fsync waits for the disk, and the disk serves several at once in about the time of
        # one (three directories: 16 ms one after the other, 4.5 ms together, on this
        # machine's disk under load). The rename may reach the disk before them: its data was
        # synced, and the upload's lease, durable before publishing, makes the collector
        # remove the bytes if the version never commits.
        high = shard >> 8
        shards_seen = None if self._listed_tops[high] else _subdirectories(top)
        directories = [shard_dir, top]
        tops_seen = None
        if not self._durable_tops[high]:
            directories.append(self._sha256)
            if not self._listed_root:
                tops_seen = _subdirectories(self._sha256)
        fsync_dirs(directories)
        self._durable_shards[shard] = 1
        self._durable_tops[high] = 1
        if shards_seen is not None:
            for low in shards_seen:
                self._durable_shards[high << 8 | low] = 1
            self._listed_tops[high] = 1
        if tops_seen is not None:
            for each in tops_seen:
                self._durable_tops[each] = 1
            self._listed_root = True

    def discard(self, staged: StagedBlob) -> None:
        pending = staged.pending_sync
        try:
            if pending is not None:
                pending.settle()
        finally:
            if pending is None or not pending.moved:  # else published: nothing is left
                _unlink_if_there(staged.location)

    def delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)

    def size(self, digest: str) -> int | None:
        return _size_or_none(self._path(digest))

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError:
            raise BlobMissing() from None

    def open_staged(self, staged: StagedBlob) -> BinaryIO:
        return open(staged.location, "rb")

    def local_path(self, digest: str) -> Path | None:
        return self._path(digest)

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        with self.open(digest) as f:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = f.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def digests(self) -> Iterator[tuple[str, int]]:
        for path in (self.root / "sha256").glob("*/*/*"):
            if path.is_file():
                yield path.name, path.stat().st_size

    def staging_objects(self) -> Iterator[StagingObject]:
        for path in self._staging.iterdir():
            modified = _mtime_ms_or_none(path)
            if modified is not None:  # gone in between: published or discarded
                yield StagingObject(str(path), staging_owner(path.name), modified)

    def remove_staging(self, location: str) -> None:
        path = Path(location)
        if path.parent != self._staging:
            raise ValueError(f"not a staging object of this store: {location!r}")
        path.unlink(missing_ok=True)

    def clear_staging(self) -> None:
        """Remove every staging object: only for a store no other process uses (an export)."""
        for leftover in self._staging.iterdir():
            leftover.unlink(missing_ok=True)

    def staging_count(self) -> int:
        return sum(1 for _ in self._staging.iterdir())

    def _path(self, digest: str) -> Path:
        return self.root / blob_key(digest)


def _mtime_ms_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns // 1_000_000
    except FileNotFoundError:
        return None


def _size_or_none(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def _unlink_if_there(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _make_shard(top: str, shard_dir: str) -> None:
    """Create sha256/ab/cd, and sha256/ab first if missing (their entries not synced): one
    mkdir when the shard exists already, as in a library of many files."""
    try:
        os.mkdir(shard_dir)
    except FileExistsError:
        return
    except FileNotFoundError:
        with suppress(FileExistsError):
            os.mkdir(top)
        with suppress(FileExistsError):
            os.mkdir(shard_dir)


def _subdirectories(directory: str) -> list[int]:
    """The shard-named subdirectories (two lowercase hex digits) of `directory`, as numbers."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if len(name) == 2 and _HEX2.fullmatch(name) and entry.is_dir(follow_symlinks=False):
                found.append(int(name, 16))
    return found


_HEX2 = re.compile("[0-9a-f]{2}")


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the directory's entries durable (its own entry is its parent's business)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Threads that wait on fsyncs for the caller.
_FSYNC_THREADS = ProcessPool(32, "mv-fsync")


def fsync_dirs(directories: Sequence[str | os.PathLike[str]]) -> None:
    """fsync every directory, at the same time; returns when all are synced (raises the first
    error, once all have ended)."""
    if len(directories) == 1:
        fsync_dir(directories[0])
        return
    others = [_FSYNC_THREADS.get().submit(fsync_dir, each) for each in directories[1:]]
    try:
        fsync_dir(directories[0])
    finally:
        wait(others)
    for each in others:
        each.result()


def make_durable_dirs(directory: Path, top: Path) -> None:
    """Create `directory` and its missing parents below `top`, then fsync the parent of each
    of them, whether this call created it or not: one another process created an instant ago
    may not have its entry fsynced yet (mkdir(parents=True) alone leaves every entry it makes
    to the file system's mercy at a power cut)."""
    parts = directory.relative_to(top).parts
    chain = [top.joinpath(*parts[:depth]) for depth in range(1, len(parts) + 1)]
    for each in chain:
        each.mkdir(exist_ok=True)
    for each in chain:
        fsync_dir(each.parent)
