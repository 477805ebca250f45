"""Crash test: mixed concurrent traffic, SIGKILL at random moments, restart, verify.

    .venv/bin/python -m tests.crash_harness --cycles 30 [--workers 2] [--seed 1]

Each cycle starts the server on the same library, runs uploads of new versions, restores,
version deletes and file deletes from several threads, kills the server and its workers with
SIGKILL at a random moment, restarts it, and checks that every acknowledged write is there
with the right bytes (and every acknowledged delete is gone), and that fsck is clean.
Runs on the backends the MEDIAVAULT_TEST_* variables name, like the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port

PATHS = [f"/crash/f{i}.bin" for i in range(4)]


@dataclass
class Ledger:
    """What the server acknowledged: versions written (with their sha256) and deleted."""

    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (file, sha)
    deleted_versions: set[str] = field(default_factory=set)
    deleted_files: set[str] = field(default_factory=set)
    # Deletes sent but not acknowledged (in flight at the kill): either outcome is correct.
    maybe_deleted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live_versions(self) -> dict[str, tuple[str, str]]:
        return {
            v: (f, sha)
            for v, (f, sha) in self.versions.items()
            if v not in self.deleted_versions and f not in self.deleted_files
        }


def traffic(base_url: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = httpx.Client(base_url=base_url, auth=(TEST_KEY, ""), timeout=10)
    try:
        while not stop.is_set():
            try:
                _one_operation(client, rng, ledger)
            except httpx.HTTPError:
                time.sleep(0.05)  # the server is down: wait for the cycle to end
    finally:
        client.close()


def _one_operation(client: httpx.Client, rng: random.Random, ledger: Ledger) -> None:
    path = rng.choice(PATHS)
    folder, _, name = path.rpartition("/")
    roll = rng.random()
    with ledger.lock:
        known = [(v, f) for v, (f, _) in ledger.live_versions().items()]
    if roll < 0.6 or not known:
        content = rng.randbytes(rng.choice([10, 1000, 200_000]))
        response = client.post(
            "/api/v1/files/upload",
            data={"fileName": name, "folder": folder, "useUniqueFileName": "false"},
            files={"file": ("upload", content, "application/octet-stream")},
        )
        if response.status_code == 200:
            body = response.json()
            with ledger.lock:
                ledger.versions[body["versionInfo"]["id"]] = (
                    body["fileId"],
                    hashlib.sha256(content).hexdigest(),
                )
        return
    version_id, file_id = rng.choice(known)
    if roll < 0.75:
        client.put(f"/v1/files/{file_id}/versions/{version_id}/restore")
    elif roll < 0.95:
        with ledger.lock:
            ledger.maybe_deleted.add(version_id)
        response = client.delete(f"/v1/files/{file_id}/versions/{version_id}")
        if response.status_code == 204:
            with ledger.lock:
                ledger.deleted_versions.add(version_id)
    else:
        with ledger.lock:
            ledger.maybe_deleted.add(file_id)
        response = client.delete(f"/v1/files/{file_id}")
        if response.status_code == 204:
            with ledger.lock:
                ledger.deleted_files.add(file_id)


def verify(server: ServerProcess, ledger: Ledger) -> None:
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=30)
    try:
        for version_id, (file_id, sha) in ledger.live_versions().items():
            response = client.get(f"/v1/files/{file_id}/versions/{version_id}")
            if response.status_code == 404 and ledger.maybe_deleted & {version_id, file_id}:
                continue  # its delete was in flight when the server died
            assert response.status_code == 200, f"acknowledged version {version_id} is gone"
            content = httpx.get(response.json()["url"], timeout=30).content
            assert hashlib.sha256(content).hexdigest() == sha, f"{version_id} has other bytes"
        for version_id in ledger.deleted_versions:
            file_id = ledger.versions[version_id][0]
            response = client.get(f"/v1/files/{file_id}/versions/{version_id}")
            assert response.status_code == 404, f"deleted version {version_id} came back"
        for file_id in ledger.deleted_files:
            assert client.get(f"/v1/files/{file_id}/details").status_code == 404
    finally:
        client.close()
    check_invariants(server)


def run(root: Path, cycles: int, workers: int = 2, seed: int = 1, threads: int = 6) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger()
    server = ServerProcess(data=root / "data", port=free_port(), workers=workers)
    for cycle in range(cycles):
        server.port = free_port()
        server.start()
        stop = threading.Event()
        workers_ = [
            threading.Thread(target=traffic, args=(server.base_url, ledger, stop, seed * 100 + i))
            for i in range(threads)
        ]
        for worker in workers_:
            worker.start()
        time.sleep(rng.uniform(0.3, 2.0))
        server.kill()  # mid-traffic: requests are in flight in every worker
        stop.set()
        for worker in workers_:
            worker.join()
        server.port = free_port()
        server.start()
        verify(server, ledger)
        server.stop()
        print(
            f"cycle {cycle + 1}/{cycles}: {len(ledger.versions)} versions acknowledged, "
            f"{len(ledger.deleted_versions)} version and {len(ledger.deleted_files)} file "
            "deletes; all present, fsck clean",
            flush=True,
        )
    return ledger


def main() -> None:
    parser = argparse.ArgumentParser(description="Kill the server mid-traffic and verify.")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-crash-") as tmp:
        run(Path(tmp), args.cycles, args.workers, args.seed)


if __name__ == "__main__":
    main()
