"""Fsync discipline, checked at the system-call level: what the SIGKILL crash test cannot show.

    .venv/bin/python -m tests.fsync_trace [--keep DIR] [--first-start]

A SIGKILL keeps everything the kernel accepted; a power cut keeps, on some file systems, only
what was fsynced: file data and directory entries alike. This runs `mediavault serve` on the
embedded default (SQLite + local disk, two workers) under `strace -f`, drives uploads (new
files in new shard directories, new versions, the same bytes twice, concurrent uploads),
restores and deletes through the API, stops the server, and checks the log against these rules:

1. Blob data: a file renamed into place (a staging file published as a blob) was fsynced
   (fsync or fdatasync, completed) after its last write and before the rename.
2. Directory entries: every directory that gains or loses an entry the library needs (mkdir,
   rename into it, a file created or unlinked in it) is fsynced after the change.
3. Order: for each uploaded version, rules 1 and 2 hold for its blob (the rename that put the
   blob in place, and every directory on its path created during the run: shard directories,
   `sha256/`, `blobs/`) before the version's transaction writes to the SQLite WAL (the first
   write to `mediavault.sqlite3-wal` that carries the version's id). Nothing here depends on
   whether the blob is published inside or before that transaction.
4. Commits: each commit (a thread's WAL writes, up to the page after the frame header that
   marks the end of a transaction) is covered by an fsync or fdatasync of the WAL that
   *started after* its last write and completed before the committing thread makes any other
   traced call, and before the answer that carries a version's id is written to its socket.
   The sync may be any thread's (group commit: SQLite runs `synchronous=NORMAL`, so a commit
   does not sync, and one sync of the WAL by whichever thread leads the round serves every
   commit written before it; fdatasync flushes the file, whoever wrote it). A sync that was
   already under way when the commit's frames were written does not count. Without such a
   sync, a commit stays in the page cache until a checkpoint and a power cut loses it.

Decided exemptions from rule 2, with the reason each loses nothing acknowledged:

- `blobs/.staging/` (staging files and owner directories): an upload in flight is not
  acknowledged, and whatever a power cut resurrects there is removed as abandoned at start.
  So the source directory of a publishing rename needs no fsync either.
- Unlinking a blob (garbage deletion, after the commit that dropped its last reference): if a
  power cut undoes the unlink, the blob is back without a row, unreferenced garbage that
  `mediavault fsck` reports and `fsck --repair` removes; no version can point at it. Requiring
  a directory fsync would cost every delete an fsync for no acknowledged data.
- `cache/` (renditions under `cache/renditions/`, thumbnails included): a cache is never
  fsynced; anything lost is rendered again on demand.
- `mediavault.sqlite3.processes/` (one flock'ed file per live process): a power cut ends every
  process, and a record that vanishes or comes back reads as a dead process either way.
- SQLite's own files (`mediavault.sqlite3`, `-wal`, `-shm`, `-journal`): SQLite fsyncs the
  directory itself when it creates a journal or WAL (the log shows it), `-shm` is never needed
  after a crash, and rule 4 covers the commits. Likewise `mediavault.sqlite3.writer`, the
  empty file whose flock queues SQLite's writers (mediavault.storage.shared_writes):
  it holds no data, and is created again when missing.

Everything else in the data folder is checked by rule 2. With `--first-start` the data folder
does not exist yet and no key is given, so its creation and the generated private key are
checked too.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import TEST_KEY, free_port

TRACED = (
    "openat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,fsync,fdatasync,"
    "write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg,close"
)
SYNCS = {"fsync", "fdatasync"}
WRITES = {"write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg"}
EXEMPT_FOLDERS = ("blobs/.staging", "cache", "mediavault.sqlite3.processes")
SQLITE_FILES = ("mediavault.sqlite3", "mediavault.sqlite3-wal", "mediavault.sqlite3-shm")


def strace_command(log: Path) -> list[str]:
    # -y: every fd printed with its path, so fds need no following across threads and
    # processes. -s: a whole 4 KiB SQLite page, to find a version's id in its WAL writes.
    # --seccomp-bpf: only the traced calls stop the tracee (the server runs at near speed).
    return [
        "strace", "-f", "-tt", "-y", "-s", "8192", "--seccomp-bpf",
        "-e", f"trace={TRACED}", "-o", str(log),
    ]  # fmt: skip


# --- the log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One completed system call. `start` and `end` are the log lines of its entry and exit:
    strace sees them in the order they happen, so `a.end < b.start` means a finished before
    b began."""

    start: int
    end: int
    tid: int
    name: str
    paths: tuple[str, ...]  # the file or directory (fd calls), or the path arguments
    data: bytes  # what a write carried (as far as -s shows it)
    flags: str
    ok: bool

    @property
    def path(self) -> str:
        return self.paths[0] if self.paths else ""


_LINE = re.compile(r"^(\d+)\s+[\d:.]+\s+(.*)$")
_UNFINISHED = re.compile(r"^(\w+)\((.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_COMPLETE = re.compile(r"^(\w+)\((.*)\)\s+= (.*)$", re.DOTALL)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD = re.compile(r"(?:^|[\s(,])(?:-?\d+|AT_FDCWD)<([^>]*)>")
_CWD = re.compile(r"AT_FDCWD<([^>]*)>")


def parse(lines: Iterable[str]) -> list[Call]:
    """The calls of an `strace -f -y` log, unfinished calls joined with their resumption."""
    calls: list[Call] = []
    pending: dict[int, tuple[int, str, str]] = {}  # tid -> (start line, name, args so far)
    cwd = ""  # as the *at calls show it: what relative paths of mkdir, rename... start from
    for index, line in enumerate(lines):
        match = _LINE.match(line.rstrip("\n"))
        if not match:
            continue
        tid, rest = int(match.group(1)), match.group(2)
        if shown := _CWD.search(rest):
            cwd = shown.group(1)
        if unfinished := _UNFINISHED.match(rest):
            pending[tid] = (index, unfinished.group(1), unfinished.group(2))
            continue
        start, text = index, rest
        if resumed := _RESUMED.match(rest):
            if tid not in pending:
                continue
            start, name, head = pending.pop(tid)
            text = f"{name}({head}{resumed.group(2)}"
        if complete := _COMPLETE.match(text):
            calls.append(_call(start, index, tid, *complete.groups(), cwd=cwd))
    return calls


def _call(start: int, end: int, tid: int, name: str, args: str, result: str, cwd: str) -> Call:
    ok = not result.startswith(("-1", "?"))
    if name in WRITES:
        fd = _FD.search(args)
        data = b"".join(_unescape(s) for s in _STRING.findall(args))
        return Call(start, end, tid, name, (fd.group(1),) if fd else (), data, "", ok)
    if name in SYNCS or name == "close":
        fd = _FD.search(args)
        return Call(start, end, tid, name, (fd.group(1),) if fd else (), b"", "", ok)
    directories = _FD.findall(args)  # dirfd arguments of the *at calls, in order
    strings = [_unescape(s).decode(errors="replace") for s in _STRING.findall(args)]
    if name == "openat":
        opened = _FD.search(" " + result)
        path = opened.group(1) if opened else _join(directories, 0, strings[0])
        return Call(start, end, tid, name, (path,), b"", args, ok)
    if name in ("renameat", "renameat2"):
        paths = (_join(directories, 0, strings[0]), _join(directories, 1, strings[1]))
    elif name in ("mkdirat", "unlinkat"):
        paths = (_join(directories, 0, strings[0]),)
    else:  # mkdir, rename, unlink, rmdir: paths relative to the working directory
        paths = tuple(os.path.normpath(os.path.join(cwd, s)) for s in strings)
    return Call(start, end, tid, name, paths, b"", args, ok)


def _join(directories: list[str], index: int, path: str) -> str:
    base = directories[index] if index < len(directories) else ""
    return os.path.normpath(os.path.join(base, path))


def _unescape(text: str) -> bytes:
    return codecs.escape_decode(text.encode("latin-1", errors="replace"))[0]


# --- the rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    version_id: str
    digest: str


@dataclass
class Report:
    findings: list[str] = field(default_factory=list)
    uploads_checked: int = 0
    blobs_published: int = 0
    directories_created: int = 0
    entries_removed: int = 0
    commits: int = 0


class Checker:
    def __init__(self, calls: list[Call], data: Path) -> None:
        self.calls = calls
        self.data = os.path.normpath(str(data))
        self.blobs = os.path.join(self.data, "blobs")
        self.wal = os.path.join(self.data, "mediavault.sqlite3-wal")
        self.report = Report()

    def check(self, uploads: Iterable[Upload]) -> Report:
        self._check_entries()
        syncs_after_commit = self._check_commits()
        for upload in uploads:
            self._check_upload(upload, syncs_after_commit)
        return self.report

    # Rule 2: every needed directory entry change is followed by an fsync of its directory.
    def _check_entries(self) -> None:
        seen: set[str] = set()
        for call in self.calls:
            for directory, entry in self._entry_changes(call, seen):
                if not self._synced(directory, after=call.end):
                    self._find(call, f"{directory} {entry} and is never fsynced after")
            if call.name == "openat" and call.ok:
                seen.add(call.path)

    def _entry_changes(self, call: Call, seen: set[str]) -> Iterator[tuple[str, str]]:
        if not call.ok:
            return
        if call.name in ("mkdir", "mkdirat"):
            self.report.directories_created += 1
            yield from self._needed(call.path, "gains the directory")
        elif call.name in ("rename", "renameat", "renameat2"):
            self.report.blobs_published += call.paths[1].startswith(self.blobs + "/sha256/")
            yield from self._needed(call.paths[0], "loses the renamed entry")
            for directory, entry in self._needed(call.paths[1], "gains the renamed entry"):
                self._check_data_synced(call)
                yield directory, entry
        elif call.name in ("unlink", "unlinkat", "rmdir"):
            self.report.entries_removed += 1
            if not call.path.startswith(self.blobs + "/sha256/"):  # decided: see the docstring
                yield from self._needed(call.path, "loses the entry")
        elif call.name == "openat" and "O_CREAT" in call.flags and call.path not in seen:
            yield from self._needed(call.path, "gains the created file")

    def _needed(self, path: str, change: str) -> Iterator[tuple[str, str]]:
        """(directory, description) when the entry is one the library needs durable."""
        directory, name = os.path.split(path)
        inside = path.startswith(self.data + "/") or path == self.data
        exempt = (
            any(_within(path, os.path.join(self.data, folder)) for folder in EXEMPT_FOLDERS)
            or (directory == self.data and name.startswith(SQLITE_FILES))
            or name.endswith("-journal")
        )
        if inside and not exempt:
            yield directory, f"{change} {name!r}"

    # Rule 4: each commit is covered by a sync of the WAL that started after it, before the
    # committing thread goes on.
    def _check_commits(self) -> dict[int, Call | None]:
        """Returns, for the line of each WAL write, the sync that made its commit durable."""
        syncs = [c for c in self.calls if c.path == self.wal and c.name in SYNCS and c.ok]
        synced_by: dict[int, Call | None] = {}
        building: dict[int, list[Call]] = {}  # tid -> the WAL writes of its commit so far
        waiting: dict[int, list[list[Call]]] = {}  # tid -> its commits, before it goes on

        def end(tid: int) -> None:
            if writes := building.pop(tid, []):
                sync = next((c for c in syncs if c.start > writes[-1].end), None)
                synced_by.update((write.start, sync) for write in writes)
                waiting.setdefault(tid, []).append(writes)
                self.report.commits += 1

        def goes_on(call: Call) -> None:
            for writes in waiting.pop(call.tid, []):
                sync = synced_by[writes[0].start]
                if sync is None or not sync.end < call.start:
                    self._find(writes[0], f"a WAL write is not synced before {call.name} at line "
                               f"{call.start + 1}: the commit is not durable when it returns")  # fmt: skip

        for call in self.calls:
            on_wal = call.path == self.wal
            if on_wal and call.name in WRITES:
                goes_on(call)  # a thread's next commit only follows its last one made durable
                writes = building.setdefault(call.tid, [])
                writes.append(call)
                if len(writes) > 1 and _commit_frame_header(writes[-2].data):
                    end(call.tid)  # the page after a commit frame's header ends the commit
            elif on_wal and (call.name in SYNCS or call.name in ("openat", "close")):
                end(call.tid)  # syncing the WAL, or opening it to sync it, is not going on
            else:
                end(call.tid)
                goes_on(call)
        for tid in list(building):
            end(tid)
        for writes in (w for commits in waiting.values() for w in commits):
            if synced_by[writes[0].start] is None:
                self._find(writes[0], "a WAL write is never synced")
        return synced_by

    def _missing_for(
        self, blob: str, rename: Call, commit: Call, what: str
    ) -> list[tuple[Call, str]]:
        """What keeps this rename from having put the blob durably in place before the commit:
        a removal of it in between, or a directory on its path not fsynced after its change."""
        missing = [(unlink, f"{what}, but after its blob is removed")
                   for unlink in self._unlinks_of(blob)
                   if rename.end < unlink.start < commit.start]  # fmt: skip
        for directory, entry_call in self._path_entries(blob, rename, before=commit.start):
            if not self._synced(directory, after=entry_call.end, before=commit.start):
                missing.append((entry_call, f"{what} {directory} is fsynced after this change"))
        return missing

    # Rule 3: the blob a version references is durable before the version commits.
    def _check_upload(self, upload: Upload, synced_by: dict[int, Call | None]) -> None:
        self.report.uploads_checked += 1
        needle = upload.version_id.encode()
        commit = self._first(lambda c: c.name in WRITES and c.path == self.wal and needle in c.data)
        if commit is None:
            self.report.findings.append(f"version {upload.version_id}: no WAL write carries it")
            return
        blob = os.path.join(self.blobs, "sha256", upload.digest[:2], upload.digest[2:4],
                            upload.digest)  # fmt: skip
        renames = [c for c in self._renames_to(blob) if c.end < commit.start]
        if not renames:
            self._find(commit, f"version {upload.version_id} commits before its blob is in place")
            return
        what = f"version {upload.version_id} commits at line {commit.start + 1} before"
        # The blob must be durably in place before the commit through some rename of it that
        # nothing removed afterwards. Two concurrent uploads of the same bytes may both rename
        # it, the second over the first, and the first commit before the second's directory
        # fsync: the name then points at a synced file of the same bytes whichever rename a
        # power cut keeps, so a durable earlier rename is enough. Reported when none is, with
        # what the latest rename lacks.
        per_rename = [self._missing_for(blob, rename, commit, what) for rename in renames]
        if all(per_rename):
            for call, finding in per_rename[-1]:
                self._find(call, finding)
        sync = synced_by.get(commit.start)
        answer = self._first(
            lambda c: c.name in WRITES and c.path.startswith("socket:") and needle in c.data
        )
        if answer is not None and (sync is None or not sync.end < answer.start):
            synced = "never" if sync is None else f"line {sync.start + 1}"
            self._find(answer, f"version {upload.version_id} is acknowledged before its commit "
                       f"is synced ({synced})")  # fmt: skip

    # Rule 1: a file renamed into place was fsynced after its last write, before the rename.
    def _check_data_synced(self, rename: Call) -> None:
        source = rename.paths[0]
        writes = [c for c in self.calls if c.name in WRITES and c.path == source and c.ok]
        last_write = max((w.end for w in writes if w.end < rename.start), default=None)
        if last_write is None:
            return  # nothing written during the run (a directory, or an empty file)
        synced = any(
            c.name in SYNCS and c.ok and c.path == source and last_write < c.start
            and c.end < rename.start
            for c in self.calls
        )  # fmt: skip
        if not synced:
            self._find(rename, f"the data of {source} is not fsynced before its rename")

    def _path_entries(self, blob: str, rename: Call, before: int) -> Iterator[tuple[str, Call]]:
        """(directory, change) for the blob's entry and each directory on its path that was
        created during the run: each of these directories must be fsynced after the change."""
        yield os.path.dirname(blob), rename
        directory = os.path.dirname(blob)
        while directory.startswith(self.data):
            made = [
                c
                for c in self.calls
                if c.name in ("mkdir", "mkdirat") and c.ok and c.path == directory
                and c.end < before
            ]  # fmt: skip
            if made:
                yield os.path.dirname(directory), made[-1]
            directory = os.path.dirname(directory)

    def _renames_to(self, path: str) -> list[Call]:
        return [
            c for c in self.calls if c.name.startswith("rename") and c.ok and c.paths[1] == path
        ]

    def _unlinks_of(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.name.startswith("unlink") and c.ok and c.path == path]

    def _synced(self, directory: str, after: int, before: int | None = None) -> bool:
        return any(
            c.name in SYNCS and c.ok and c.path == directory and c.start > after
            and (before is None or c.end < before)
            for c in self.calls
        )  # fmt: skip

    def _first(self, predicate: Callable[[Call], bool]) -> Call | None:
        return next((c for c in self.calls if predicate(c)), None)

    def _find(self, call: Call, message: str) -> None:
        self.report.findings.append(f"line {call.start + 1} ({call.name} {call.path}): {message}")


def _commit_frame_header(data: bytes) -> bool:
    """A WAL frame header (24 bytes, written before its page) whose "database size after
    commit" field is set: the frame that ends a transaction."""
    return len(data) == 24 and data[4:8] != bytes(4)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def check_log(log: Path, data: Path, uploads: Iterable[Upload]) -> Report:
    with log.open(errors="replace") as lines:
        return Checker(parse(lines), data).check(uploads)


# --- the run ------------------------------------------------------------------------------


@dataclass
class TracedServer:
    workdir: Path
    first_start: bool = False
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def log(self) -> Path:
        return self.workdir / "strace.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.first_start:
            self.data.mkdir(parents=True)  # as a deployment's volume: not the server's to make
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
        if not self.first_start:
            env["MEDIAVAULT_PRIVATE_KEY"] = TEST_KEY
        server = [
            str(Path(sys.executable).parent / "mediavault"), "serve", "--port", str(self.port),
            "--data", str(self.data), "--workers", "2",
        ]  # fmt: skip
        self._output = (self.workdir / "server.log").open("w")
        self.process = subprocess.Popen(
            [*strace_command(self.log), *server],
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / "server.log").read_text())
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the traced server did not start")

    def key(self) -> str:
        return (self.data / "private_key").read_text().strip() if self.first_start else TEST_KEY

    def stop(self) -> None:
        """SIGINT to the server only: strace itself would detach and stop logging."""
        import psutil

        for child in psutil.Process(self.process.pid).children():
            child.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._output.close()


def drive(base_url: str, key: str) -> list[Upload]:
    """Uploads, restores and deletes that publish blobs into new and existing shard
    directories, store the same bytes twice, and race each other."""
    uploads: list[Upload] = []
    client = httpx.Client(base_url=base_url, auth=(key, ""), timeout=60)

    def upload(path: str, content: bytes) -> dict[str, str]:
        folder, _, name = path.rpartition("/")
        response = client.post(
            "/api/v1/files/upload",
            data={"fileName": name, "folder": folder, "useUniqueFileName": "false"},
            files={"file": ("upload", content, "application/octet-stream")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        uploads.append(Upload(body["versionInfo"]["id"], hashlib.sha256(content).hexdigest()))
        return {"file": body["fileId"], "version": body["versionInfo"]["id"]}

    try:
        firsts = [upload(f"/trace/f{i}.bin", os.urandom(100 + i)) for i in range(8)]
        replaced = [os.urandom(3000) for _ in range(4)]
        seconds = [upload(f"/trace/f{i}.bin", content) for i, content in enumerate(replaced)]
        upload("/trace/copy.bin", b"the same bytes")  # stored once, referenced twice
        upload("/trace/copy2.bin", b"the same bytes")
        upload("/trace/large.bin", os.urandom(3 * 1024 * 1024))  # many writes, one blob
        _concurrently(lambda i: upload(f"/trace/race{i % 3}.bin", bytes([i % 2]) * 5000), 8)
        for first, second in zip(firsts, seconds, strict=False):
            restored = client.put(f"/v1/files/{first['file']}/versions/{first['version']}/restore")
            assert restored.status_code == 200, restored.text
            removed = client.delete(f"/v1/files/{second['file']}/versions/{second['version']}")
            assert removed.status_code == 204, removed.text  # its blob is unlinked
        assert client.delete(f"/v1/files/{firsts[7]['file']}").status_code == 204
        upload("/trace/again.bin", replaced[0])  # bytes whose blob was deleted: published again
        assert client.get(f"/v1/files/{firsts[0]['file']}/details").status_code == 200
    finally:
        client.close()
    return uploads


def _concurrently(work: Callable[[int], object], count: int) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def trace_and_check(workdir: Path, first_start: bool = False) -> Report:
    if shutil.which("strace") is None:
        raise RuntimeError("strace is not installed")
    server = TracedServer(workdir, first_start)
    server.start()
    try:
        uploads = drive(server.base_url, server.key())
    finally:
        server.stop()
    return check_log(server.log, server.data, uploads)


def main() -> None:
    parser = argparse.ArgumentParser(description="Check the server's fsync discipline.")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the log")
    parser.add_argument("--first-start", action="store_true", help="no data folder, no key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-fsync-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = trace_and_check(workdir, args.first_start)
    print(
        f"{report.uploads_checked} uploads, {report.blobs_published} blobs published, "
        f"{report.directories_created} directories created, {report.entries_removed} "
        f"entries removed, {report.commits} commits"
    )
    for finding in report.findings:
        print(finding)
    sys.exit(1 if report.findings else 0)


if __name__ == "__main__":
    main()
