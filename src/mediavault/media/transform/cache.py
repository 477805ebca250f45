"""The rendition cache: each rendition computed once, kept on local disk, shared by the workers.

Layout under `<data>/cache/renditions/`:

    ab/<digest>/<key>.<ext>          one rendition: key = (transformation, format policy), ext
                                     the format written (jpg, png, webp, avif, gif)
    ab/<digest>/.<key>.<random>.tmp  a rendition being written (renamed into place when whole)
    .locks/<00..ff>                  lock files, one per first byte of the key
    .evict.lock                      held by the process that evicts
    placeholder-<size>.png           the thumbnail placeholder (engine.py)

A blob's renditions live in one folder, so `forget(digest)` removes them in one go when the blob
is deleted. Renditions are written to a temporary name and renamed, so a reader sees a whole
file or none; nothing is fsynced (a cache entry lost to a crash is computed again).

Once: concurrent requests for the same missing rendition wait for one computation, the threads
of a process on a per-key lock, the processes of a host on an flock of the key's lock file;
whoever gets the lock looks again before computing.

Bounded: a file's mtime is its last use (a hit touches it, at most once a minute); when the
total passes `max_bytes` the least recently used are deleted down to 90 %. Each process scans
the folder on its first write and after every `max_bytes / 20` it writes, so with N processes the
cache can overshoot by N twentieths before one of them notices. Renditions used in the last
`min_age` seconds are never evicted: the path a request was just given stays there while it is
being sent (a few seconds), so eviction cannot cut a response short.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mediavault.media.transform.formats import EXTENSIONS
from mediavault.ops import metrics

KEY = re.compile(r"[0-9a-f]{32}")
DIGEST = re.compile(r"[0-9a-f]{2,128}")
_RENDITION = re.compile(r"[0-9a-f]{32}\.(?:" + "|".join(EXTENSIONS) + r")")
_TEMP = re.compile(r"\.[0-9a-f]{32}\.[0-9a-f]+\.tmp")
_PLACEHOLDER = re.compile(r"placeholder-\d+\.png|\.placeholder-\d+\.png\.[0-9a-f]+\.tmp")
# Renditions a process remembers finding (path, format, when it last marked them used).
_KNOWN_MAX = 65536
_FANOUT = re.compile(r"[0-9a-f]{2}")
_STRIPE = re.compile(r"[0-9a-f]{2}")


@dataclass
class CacheReport:
    """What `check` found: problems (garbage), what it repaired, notes (work in flight)."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class RenditionCache:
    def __init__(
        self,
        root: Path,
        max_bytes: int,
        *,
        touch_after: float = 60.0,
        min_age: float = 120.0,
        temp_grace: float = 3600.0,
    ) -> None:
        if min_age < touch_after:
            raise ValueError("min_age must be at least touch_after")
        self.root = root
        self.max_bytes = max_bytes
        self._touch_after = touch_after
        self._min_age = min_age
        self._temp_grace = temp_grace
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        self._guard = threading.Lock()
        self._keys: dict[str, _KeyLock] = {}
        self._written = 0
        self._scanned = False
        self._known: dict[tuple[str, str], tuple[Path, str, float]] = {}

    # Reading and writing

    def lookup(self, digest: str, key: str) -> tuple[Path, str] | None:
        """The rendition's path and format if it is cached; a hit counts as a use.

        A rendition found once is remembered with the time this process last marked it used:
        the warm path is then a dictionary lookup, with no stat call, and the file's mtime (the
        LRU clock all processes share) is touched at most once per `touch_after`. When another
        process evicts it meanwhile, the caller's open fails and it renders again."""
        remembered = self._known.get((digest, key))
        now = time.time()
        if remembered is not None:
            path, ext, touched = remembered
            if now - touched <= self._touch_after:
                return path, ext
            try:
                os.utime(path)
            except OSError:
                self._known.pop((digest, key), None)
            else:
                self._known[digest, key] = (path, ext, now)
                return path, ext
        return self._find(digest, key, now)

    def _find(self, digest: str, key: str, now: float) -> tuple[Path, str] | None:
        """`lookup` on disk, without the remembered paths."""
        folder = self.folder(digest)
        _check_key(key)
        for ext in EXTENSIONS:
            path = folder / f"{key}.{ext}"
            try:
                stat = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                continue
            if now - stat.st_mtime > self._touch_after:
                # Evicted or forgotten in between: the caller still gets the path.
                with contextlib.suppress(OSError):
                    os.utime(path)
            self._remember(digest, key, path, ext)
            return path, ext
        return None

    def _remember(self, digest: str, key: str, path: Path, ext: str) -> None:
        if len(self._known) >= _KNOWN_MAX:
            self._known.clear()
        self._known[digest, key] = (path, ext, time.time())

    def get_or_create(
        self, digest: str, key: str, produce: Callable[[Path], str | None]
    ) -> tuple[Path, str] | None:
        """The cached rendition, computed by `produce` if missing, once across threads and
        processes. `produce(temp)` writes the rendition at `temp` and returns its extension,
        or None when there is nothing to keep (then None is returned)."""
        # On disk, not from memory: the caller may have found a remembered path gone.
        found = self._find(digest, key, time.time())
        if found is not None:
            return found
        with self._key_lock(key), self._file_lock(key):
            found = self._find(digest, key, time.time())
            if found is not None:
                return found
            folder = self.folder(digest)
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f".{key}.{secrets.token_hex(6)}.tmp"
            try:
                ext = produce(temp)
                if ext is None:
                    return None
                if ext not in EXTENSIONS:
                    raise ValueError(f"not a rendition format: {ext!r}")
                size = temp.stat().st_size
                final = folder / f"{key}.{ext}"
                os.replace(temp, final)
            finally:
                temp.unlink(missing_ok=True)
        self._account(size)
        metrics.RENDITION_BYTES.inc(size)
        self._remember(digest, key, final, ext)
        return final, ext

    def forget(self, digest: str) -> None:
        """Delete every rendition of a blob (called when the blob is deleted)."""
        for known in [k for k in list(self._known) if k[0] == digest]:
            self._known.pop(known, None)
        shutil.rmtree(self.folder(digest), ignore_errors=True)

    def folder(self, digest: str) -> Path:
        if not DIGEST.fullmatch(digest):
            raise ValueError(f"not a blob digest: {digest!r}")
        return self.root / digest[:2] / digest

    # Locks

    @contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        with self._guard:
            entry = self._keys.setdefault(key, _KeyLock())
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._keys[key]

    @contextmanager
    def _file_lock(self, key: str) -> Iterator[None]:
        fd = os.open(self.root / ".locks" / key[:2], os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    # Size bound

    def _account(self, size: int) -> None:
        with self._guard:
            self._written += size
            due = not self._scanned or self._written >= self.max_bytes // 20
            if due:
                self._written, self._scanned = 0, True
        if due:
            self.evict()

    def evict(self) -> int:
        """Delete least recently used renditions until the cache is back under 90 % of its
        bound; return the bytes freed. Skipped while another process evicts."""
        fd = os.open(self.root / ".evict.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            entries = list(self._renditions())
            total = sum(size for _, size, _ in entries)
            if total <= self.max_bytes:
                return 0
            goal = self.max_bytes * 0.9
            recent = time.time() - self._min_age
            freed = 0
            for path, size, used in sorted(entries, key=lambda entry: entry[2]):
                if total - freed <= goal or used > recent:
                    break
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                freed += size
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # the blob's last rendition: its folder goes too
            if freed:
                self._known.clear()
            return freed
        finally:
            os.close(fd)

    def size(self) -> int:
        """Bytes of all renditions (a scan)."""
        return sum(size for _, size, _ in self._renditions())

    def _renditions(self) -> Iterator[tuple[Path, int, float]]:
        for folder in self._digest_folders():
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if _RENDITION.fullmatch(entry.name):
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield Path(entry.path), stat.st_size, stat.st_mtime

    def _digest_folders(self) -> Iterator[Path]:
        for fanout in _scandir(self.root):
            if fanout.is_dir(follow_symlinks=False) and _FANOUT.fullmatch(fanout.name):
                for folder in _scandir(Path(fanout.path)):
                    if folder.is_dir(follow_symlinks=False):
                        yield Path(folder.path)

    # Checking (fsck)

    def check(
        self, known_digests: Collection[str] | None = None, repair: bool = False
    ) -> CacheReport:
        """Report (and with `repair`, remove) what does not belong in the cache: unknown files,
        temporary files older than the grace period (left by a crash), and, when
        `known_digests` is given, renditions of blobs that no longer exist."""
        report = CacheReport()
        old = time.time() - self._temp_grace
        in_flight = 0

        def garbage(path: Path, problem: str) -> None:
            report.problems.append(problem)
            if repair:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                report.repaired.append(f"removed {path}")

        for entry in _scandir(self.root):
            path = Path(entry.path)
            if entry.name == ".locks" and entry.is_dir(follow_symlinks=False):
                for lock in _scandir(path):
                    if not (_STRIPE.fullmatch(lock.name) and lock.is_file(follow_symlinks=False)):
                        garbage(
                            Path(lock.path), f"unknown file in the rendition cache: {lock.path}"
                        )
            elif (
                entry.name == ".evict.lock" or _PLACEHOLDER.fullmatch(entry.name)
            ) and entry.is_file(follow_symlinks=False):
                continue
            elif _FANOUT.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                for folder in _scandir(path):
                    folder_path = Path(folder.path)
                    if not (
                        folder.is_dir(follow_symlinks=False)
                        and DIGEST.fullmatch(folder.name)
                        and folder.name.startswith(entry.name)
                    ):
                        garbage(folder_path, f"unknown file in the rendition cache: {folder.path}")
                    elif known_digests is not None and folder.name not in known_digests:
                        garbage(folder_path, f"renditions of a deleted blob: {folder.name}")
                    else:
                        in_flight += self._check_folder(folder_path, old, garbage)
            else:
                garbage(path, f"unknown file in the rendition cache: {entry.path}")
        if in_flight:
            report.notes.append(f"{in_flight} renditions being written")
        if report.repaired:
            self._known.clear()
        return report

    def _check_folder(self, folder: Path, old: float, garbage: Callable[[Path, str], None]) -> int:
        in_flight = 0
        for item in _scandir(folder):
            path = Path(item.path)
            if not item.is_file(follow_symlinks=False):
                garbage(path, f"unknown file in the rendition cache: {item.path}")
            elif _TEMP.fullmatch(item.name):
                try:
                    modified = item.stat().st_mtime
                except FileNotFoundError:
                    continue
                if modified < old:
                    garbage(path, f"rendition left half-written: {item.path}")
                else:
                    in_flight += 1
            elif not _RENDITION.fullmatch(item.name):
                garbage(path, f"unknown file in the rendition cache: {item.path}")
        return in_flight


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check_key(key: str) -> None:
    if not KEY.fullmatch(key):
        raise ValueError(f"not a rendition key: {key!r}")
