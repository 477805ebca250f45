"""The floor under a small upload: a bare Starlette app that takes mediavault's upload form.

    .venv/bin/python bench/upload_floor_app.py --port 8000 --data /tmp/floor [--workers 1]

Served as `mediavault serve` is (granian, ASGI, uvloop, spawn), it answers three routes with
the same multipart form bench/writes.py sends to mediavault and a JSON answer of about the
same size, each adding one step of what any durable upload has to do:

- `/parse`: read the form (Starlette's parser, python-multipart) and hash the file;
- `/durable`: also store the bytes as a durable blob: a new file written and fdatasynced,
  renamed to `blobs/<ab>/<digest>` (the 256 directories made and synced at start, so no
  mkdir), the directory fsynced; in a worker thread, as a blocking call must be;
- `/durable-row`: also commit one row naming it to SQLite (WAL, synchronous=FULL: the
  commit is on disk when it returns), one transaction an upload;
- `/packed-row`: instead, append the bytes to one pack file and commit a row naming its
  offset, then wait for a group sync of the pack and the WAL (one fdatasync of each serves
  every upload before it): no file created per upload, the design SeaweedFS's volumes have,
  with mediavault's promise that nothing is acknowledged before it is durable.

Nothing here versions, checks, leases or serializes a File object: what mediavault does above
`/durable-row` is its own cost. bench/upload_floor.py measures the three against mediavault and
SeaweedFS in one run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DATA = Path(os.environ.get("UPLOAD_FLOOR_DATA", "/tmp/upload-floor"))
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_database_lock = threading.Lock()
_database: sqlite3.Connection | None = None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store(data: bytes, digest: str) -> None:
    staging = str(DATA / "staging" / secrets.token_hex(16))
    fd = os.open(staging, _CREATE, 0o666)
    try:
        os.write(fd, data)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    shard = str(DATA / "blobs" / digest[:2])
    os.replace(staging, f"{shard}/{digest}")
    _fsync_dir(shard)


def _connect(name: str, synchronous: str) -> sqlite3.Connection:
    database = sqlite3.connect(DATA / name, check_same_thread=False)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute(f"PRAGMA synchronous={synchronous}")
    database.execute(
        "CREATE TABLE IF NOT EXISTS uploads (id INTEGER PRIMARY KEY, name TEXT, "
        "digest TEXT, pack_offset INTEGER, size INTEGER, created INTEGER)"
    )
    return database


def _record(name: str, digest: str, size: int) -> None:
    global _database
    with _database_lock:
        if _database is None:
            _database = _connect(f"floor-{os.getpid()}.sqlite3", "FULL")
        with _database:
            _database.execute(
                "INSERT INTO uploads (name, digest, size, created) VALUES (?, ?, ?, ?)",
                (name, digest, size, time.time_ns()),
            )


class _Pack:
    """Small blobs appended to one file, and one group sync (leader and followers, as
    mediavault's WAL barrier) of the pack and the database's WAL serving every upload
    appended and committed before it began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started = self._finished = 0
        pid = os.getpid()
        self._fd = os.open(DATA / f"pack-{pid}.pack", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._database = _connect(f"packed-{pid}.sqlite3", "NORMAL")
        self._wal = os.open(DATA / f"packed-{pid}.sqlite3-wal", os.O_RDONLY)
        self._offset = 0

    def store(self, name: str, data: bytes, digest: str) -> None:
        with self._lock:
            offset, self._offset = self._offset, self._offset + len(data)
            os.write(self._fd, data)
            with self._database:
                self._database.execute(
                    "INSERT INTO uploads (name, digest, pack_offset, size, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, digest, offset, len(data), time.time_ns()),
                )
        self._sync()

    def _sync(self) -> None:
        with self._changed:
            needed = self._started + 1  # a round under way may have begun before this write
            while self._finished < needed:
                if self._started == self._finished:
                    self._started += 1
                    self._changed.release()
                    try:
                        os.fdatasync(self._fd)
                        os.fdatasync(self._wal)
                    finally:
                        self._changed.acquire()
                    self._finished += 1
                    self._changed.notify_all()
                else:
                    self._changed.wait()


_pack: _Pack | None = None
_pack_lock = threading.Lock()


def _store_packed(name: str, data: bytes, digest: str) -> None:
    global _pack
    with _pack_lock:
        if _pack is None:
            _pack = _Pack()
    _pack.store(name, data, digest)


Store = Callable[[str, bytes, str], None]  # (file name, bytes, digest), in a worker thread


def _durable(_name: str, data: bytes, digest: str) -> None:
    _store(data, digest)


def _durable_row(name: str, data: bytes, digest: str) -> None:
    _store(data, digest)
    _record(name, digest, len(data))


async def _upload(request: Request, store: Store | None) -> JSONResponse:
    form = await request.form()
    upload = form["file"]
    assert isinstance(upload, UploadFile)
    data = await upload.read()
    digest = hashlib.sha256(data).hexdigest()
    name = str(form["fileName"])
    if store is not None:
        await anyio.to_thread.run_sync(store, name, data, digest)
    await form.close()
    return JSONResponse(
        {
            "fileId": secrets.token_hex(12),
            "name": name,
            "size": len(data),
            "versionInfo": {"id": secrets.token_hex(12), "name": "Version 2"},
            "filePath": f"{form['folder']}/{name}",
            "url": f"http://127.0.0.1/media{form['folder']}/{name}",
            "fileType": "non-image",
            "AITags": None,
            "digest": digest,
        }
    )


def _route(path: str, store: Store | None) -> Route:
    async def endpoint(request: Request) -> JSONResponse:
        return await _upload(request, store)

    return Route(path, endpoint, methods=["POST"])


app = Starlette(
    routes=[
        _route("/parse", None),
        _route("/durable", _durable),
        _route("/durable-row", _durable_row),
        _route("/packed-row", _store_packed),
    ]
)


def prepare(data: Path) -> None:
    """The staging folder and the 256 blob directories, durable before the first upload."""
    (data / "staging").mkdir(parents=True, exist_ok=True)
    for high in range(256):
        (data / "blobs" / f"{high:02x}").mkdir(parents=True, exist_ok=True)
    for high in range(256):
        _fsync_dir(str(data / "blobs" / f"{high:02x}"))
    _fsync_dir(str(data / "blobs"))
    _fsync_dir(str(data))


def main() -> None:
    from hello_app import serve_as_mediavault  # bench/hello_app.py, beside this file

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    prepare(args.data)
    os.environ["UPLOAD_FLOOR_DATA"] = str(args.data)  # the spawned workers read it
    serve_as_mediavault("upload_floor_app:app", args.port, args.workers)


if __name__ == "__main__":
    main()
