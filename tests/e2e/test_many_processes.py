"""Several processes on one library: none may destroy another's work, none may block it.

Starting a process (a second server, `mediavault migrate`) cleans up only what is provably
abandoned; an upload in flight in another process keeps its staging object and its bytes. A
large upload's publishing (an object store's copy) runs outside any transaction, so small
uploads to other files keep completing meanwhile.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import backend_env
from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port

UPLOAD = "/api/v1/files/upload"
AUTH = (TEST_KEY, "")


class SlowFile:
    """A file object that hands its bytes to httpx a chunk at a time, pausing between them."""

    def __init__(
        self,
        content: bytes,
        seconds: float,
        chunks: int = 40,
        hold_last: threading.Event | None = None,
    ) -> None:
        self._content = content
        # The last chunk waits for this, so the body is still arriving however slow the
        # machine makes whatever the test does meanwhile.
        self._hold_last = hold_last
        self._step = -(-len(content) // chunks)
        self._pause = seconds / chunks
        self._position = 0
        self.finished_at: float | None = None

    def read(self, size: int = -1) -> bytes:
        if self._position >= len(self._content):
            self.finished_at = self.finished_at or time.monotonic()
            return b""
        time.sleep(self._pause)
        if self._hold_last is not None and self._position + self._step >= len(self._content):
            self._hold_last.wait(timeout=300)
        chunk = self._content[self._position : self._position + self._step]
        self._position += len(chunk)
        return chunk


@pytest.fixture
def one_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    yield process
    process.stop()


def start_second_server(first: ServerProcess) -> None:
    second = ServerProcess(data=first.data, port=free_port())
    second.backend = first.backend  # the same database and blob store
    second.start()
    second.stop()


def run_migrate(first: ServerProcess) -> None:
    first.cli("migrate", "--data", str(first.data))


@pytest.mark.parametrize("starter", [start_second_server, run_migrate], ids=["serve", "migrate"])
def test_an_upload_in_flight_survives_another_process_starting(
    one_server: ServerProcess, starter: object
) -> None:
    server = one_server
    content = os.urandom(3 * 1024 * 1024 + 17)
    other_started = threading.Event()
    slow = SlowFile(content, seconds=5, hold_last=other_started)
    answer: dict[str, httpx.Response] = {}

    def upload() -> None:
        answer["response"] = httpx.post(
            server.base_url + UPLOAD,
            auth=AUTH,
            data={"fileName": "slow.bin", "useUniqueFileName": "false"},
            files={"file": ("slow.bin", slow, "application/octet-stream")},
            timeout=120,
        )

    uploading = threading.Thread(target=upload)
    uploading.start()
    time.sleep(1.5)  # the upload's staging object exists and is growing
    assert slow.finished_at is None
    try:
        starter(server)  # type: ignore[operator]
        assert slow.finished_at is None, "the other process started too late to matter"
    finally:
        other_started.set()
    uploading.join(timeout=300)

    response = answer["response"]
    assert response.status_code == 200, response.text
    assert response.json()["size"] == len(content)
    delivered = httpx.get(response.json()["url"], timeout=60)
    assert delivered.status_code == 200 and delivered.content == content
    server.stop()
    check_invariants(server)


def sqlite_with_the_configured_blobs() -> dict[str, str]:
    """SQLite metadata (one writer at a time) with whatever blob store the suite runs on."""
    env = backend_env()
    env.pop("MEDIAVAULT_DATABASE_URL", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    [backend_env, sqlite_with_the_configured_blobs],
    ids=["configured backends", "sqlite with the configured blobs"],
)
def test_small_uploads_complete_while_a_large_one_publishes(
    tmp_path: Path, backend: object
) -> None:
    """On SQLite every write waits for the one writer, so a copy inside a transaction would
    hold up every other upload for as long as the object store copies (seconds per GiB)."""
    server = ServerProcess(data=tmp_path / "data", port=free_port())
    server.backend = backend()  # type: ignore[operator]
    server.start()
    try:
        big = SlowFile(os.urandom(1024 * 1024) * 1024, seconds=0, chunks=1024)
        big_done: dict[str, float] = {}
        small: list[tuple[float, float, int]] = []
        stop = threading.Event()

        def upload_big() -> None:
            response = httpx.post(
                server.base_url + UPLOAD,
                auth=AUTH,
                data={"fileName": "big.bin", "useUniqueFileName": "false"},
                files={"file": ("big.bin", big, "application/octet-stream")},
                timeout=600,
            )
            big_done["at"] = time.monotonic()
            big_done["status"] = response.status_code

        def upload_small(client_number: int) -> None:
            with httpx.Client(base_url=server.base_url, auth=AUTH, timeout=600) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    started = time.monotonic()
                    response = client.post(
                        UPLOAD,
                        data={"fileName": f"s{client_number}-{n}.txt"},
                        files={"file": ("s.txt", os.urandom(10 * 1024), "text/plain")},
                    )
                    small.append((started, time.monotonic(), response.status_code))

        threads = [threading.Thread(target=upload_small, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        upload_big()
        stop.set()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        server.stop()

    assert big_done["status"] == 200
    assert big.finished_at is not None
    # From the last byte sent to the answer: staging's flush, the lease, publishing, the
    # version's transaction.
    window = (big.finished_at, big_done["at"])
    during = [s for s in small if window[0] <= s[1] <= window[1]]
    assert all(status == 200 for _, _, status in small)
    longest_wait = max((end - start for start, end, _ in during), default=0.0)
    length = window[1] - window[0]
    print(f"publish window {length:.2f} s, {len(during)} small uploads, {longest_wait:.2f} s")
    if length >= 1.0:
        # Small uploads kept completing: at least one per half second of the window, and
        # none waited for most of it.
        assert len(during) >= length / 0.5, (length, len(during))
        assert longest_wait < 0.6 * length, (length, longest_wait)
    check_invariants(server)
