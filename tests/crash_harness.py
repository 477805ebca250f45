"""Crash test: mixed concurrent traffic, SIGKILL at random moments, restart, verify.

    .venv/bin/python -m tests.crash_harness --cycles 30 [--workers 2] [--seed 1]

Each cycle starts the server on the same library, runs uploads of new versions, restores,
version deletes and file deletes from several threads, kills the server and its workers with
SIGKILL at a random moment, restarts it, and checks the library against what was acknowledged.
Runs on the backends the MEDIAVAULT_TEST_* variables name, like the test suite.

The rules are strict; only a request whose outcome is unknown (its connection was cut, or it
timed out) is exempt from anything, and only until the next verification settles it:

- any 5xx answer during traffic is a failure, as is a 2xx answer that contradicts the request
  (a restore whose answer names another version as current);
- every acknowledged version is there with its bytes, unless an acknowledged delete removed it
  or a delete of unknown outcome may have;
- every acknowledged delete is gone; a refused delete (4xx) changed nothing;
- each file's current version is the target of an acknowledged upload or restore that no later
  acknowledged upload or restore of that file overrode, or of a request of unknown outcome that
  none overrode (see `Ledger.in_effect`);
- fsck is clean.

After each verification the ledger records what it observed: unknown deletes become deletes or
are dropped, and each file's current version becomes an observation every later request follows.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port

PATHS = [f"/crash/f{i}.bin" for i in range(4)]
# Stands for "a version this ledger does not know": one an upload of unknown outcome created.
UNKNOWN_VERSION = "?"


@dataclass
class Op:
    """One request that changes state, with its place on the ledger's clock.

    `sent` is taken before the request goes out, `answered` after its answer arrived; for a
    request of unknown outcome, `answered` is the moment the server was killed (it cannot take
    effect later than that). So A certainly took effect before B when A.answered < B.sent.
    """

    kind: str  # "upload", "restore", "delete_version" or "delete_file"
    path: str
    file_id: str | None  # uploads: from the answer
    version_id: str | None  # restores and version deletes: the target; uploads: the new one
    sent: int
    answered: int | None = None
    status: int | None = None  # None: the outcome is unknown

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def unknown(self) -> bool:
        return self.status is None


@dataclass
class Ledger:
    """What the server acknowledged, what it refused and what is still unknown."""

    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (file, sha)
    paths: dict[str, str] = field(default_factory=dict)  # file id -> path
    deleted_versions: set[str] = field(default_factory=set)
    deleted_files: set[str] = field(default_factory=set)
    # Uploads and restores (acknowledged or of unknown outcome) that may decide each file's
    # current version, and every request of unknown outcome; both settled by `observe`.
    setters: list[Op] = field(default_factory=list)
    unknown: list[Op] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # "upload 200", "restore 404", ...
    restores_verified: int = 0
    unknown_total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def tick(self) -> int:
        with self.lock:
            return next(self._clock)

    def live_versions(self) -> dict[str, tuple[str, str]]:
        return {
            v: (f, sha)
            for v, (f, sha) in self.versions.items()
            if v not in self.deleted_versions and f not in self.deleted_files
        }

    def maybe_deleted(self, version_id: str, file_id: str) -> bool:
        """Whether a delete of unknown outcome may have removed this version."""
        return any(
            (op.kind == "delete_version" and op.version_id == version_id)
            or (op.kind == "delete_file" and op.file_id == file_id)
            for op in self.unknown
        )

    def settle_unknown(self) -> None:
        """The server is dead and traffic stopped: nothing unanswered can take effect later."""
        now = self.tick()
        with self.lock:
            for op in self.unknown:
                if op.answered is None:
                    op.answered = now

    def in_effect(self, file_id: str) -> list[Op]:
        """The uploads and restores that may have set the file's current version: those no
        acknowledged one certainly followed. Those of unknown outcome count (they may have
        taken effect) but never override others (they may not have)."""
        ops = [op for op in self.setters if self._may_set(op, file_id)]
        overriding = [op for op in ops if op.acknowledged]
        for op in ops:
            assert op.answered is not None, "settle_unknown() before verifying"
        return [
            op for op in ops if not any(later.sent > (op.answered or 0) for later in overriding)
        ]

    def _may_set(self, op: Op, file_id: str) -> bool:
        if op.acknowledged:
            return op.file_id == file_id
        if not op.unknown:
            return False  # refused: it changed nothing
        # An upload of unknown outcome has no answer to name its file: its path does.
        return op.file_id == file_id or (op.kind == "upload" and op.path == self.paths[file_id])

    def observe(self, current: dict[str, str], deleted: set[str], gone: set[str]) -> None:
        """Record what a verification found, settling every request of unknown outcome."""
        now = self.tick()
        self.deleted_versions |= deleted
        self.deleted_files |= gone
        self.unknown.clear()
        self.setters = [
            Op("upload", self.paths[f], f, v, sent=now, answered=now, status=200)
            for f, v in current.items()
        ]


def traffic(base_url: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    client = httpx.Client(base_url=base_url, auth=(TEST_KEY, ""), timeout=30)
    try:
        while not stop.is_set():
            try:
                _one_operation(client, rng, ledger)
            except Exception as exc:  # an answer that is not what the API promises
                with ledger.lock:
                    ledger.failures.append(f"traffic: {exc!r}")
    finally:
        client.close()


def _one_operation(client: httpx.Client, rng: random.Random, ledger: Ledger) -> None:
    path = rng.choice(PATHS)
    roll = rng.random()
    with ledger.lock:
        known = [(v, f) for v, (f, _) in ledger.live_versions().items()]
    if roll < 0.5 or not known:
        _upload(client, rng, ledger, path)
        return
    version_id, file_id = rng.choice(known)
    path = ledger.paths[file_id]
    if roll < 0.75:  # often enough that some restores are still in effect at the kill
        op = Op("restore", path, file_id, version_id, sent=ledger.tick())
        request = client.build_request("PUT", f"/v1/files/{file_id}/versions/{version_id}/restore")
    elif roll < 0.95:
        op = Op("delete_version", path, file_id, version_id, sent=ledger.tick())
        request = client.build_request("DELETE", f"/v1/files/{file_id}/versions/{version_id}")
    else:
        op = Op("delete_file", path, file_id, None, sent=ledger.tick())
        request = client.build_request("DELETE", f"/v1/files/{file_id}")
    response = _send(client, ledger, op, request)
    if response is None or not op.acknowledged:
        return
    with ledger.lock:
        if op.kind == "restore":
            current = response.json()["versionInfo"]["id"]
            if current != version_id:
                ledger.failures.append(
                    f"restore of {version_id} answered {op.status} naming {current} current"
                )
            ledger.setters.append(op)
        elif op.kind == "delete_version":
            ledger.deleted_versions.add(version_id)
        else:
            ledger.deleted_files.add(file_id)


def _upload(client: httpx.Client, rng: random.Random, ledger: Ledger, path: str) -> None:
    folder, _, name = path.rpartition("/")
    content = rng.randbytes(rng.choice([10, 1000, 200_000]))
    request = client.build_request(
        "POST",
        "/api/v1/files/upload",
        data={"fileName": name, "folder": folder, "useUniqueFileName": "false"},
        files={"file": ("upload", content, "application/octet-stream")},
    )
    op = Op("upload", path, None, None, sent=ledger.tick())
    response = _send(client, ledger, op, request)
    if response is None or not op.acknowledged:
        return
    body = response.json()
    op.file_id, op.version_id = body["fileId"], body["versionInfo"]["id"]
    with ledger.lock:
        ledger.versions[op.version_id] = (op.file_id, hashlib.sha256(content).hexdigest())
        ledger.paths[op.file_id] = path
        ledger.setters.append(op)


def _send(
    client: httpx.Client, ledger: Ledger, op: Op, request: httpx.Request
) -> httpx.Response | None:
    """Send one request; an answer is recorded (5xx as a failure), a cut connection makes
    the request one of unknown outcome."""
    try:
        response = client.send(request)
    except httpx.HTTPError:
        with ledger.lock:
            ledger.unknown.append(op)
            ledger.unknown_total += 1
            if op.kind in ("upload", "restore"):
                ledger.setters.append(op)
        time.sleep(0.05)  # the server is down: wait for the cycle to end
        return None
    op.status, op.answered = response.status_code, ledger.tick()
    with ledger.lock:
        ledger.answers[f"{op.kind} {op.status}"] += 1
        if op.status >= 500:
            ledger.failures.append(
                f"{request.method} {request.url.path} answered {op.status}: {response.text[:300]}"
            )
    return response


def verify(server: ServerProcess, ledger: Ledger) -> None:
    assert not ledger.failures, "during traffic:\n" + "\n".join(ledger.failures)
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=30)
    try:
        deleted, gone = _check_versions(client, ledger)
        current = _check_current(client, ledger, ledger.deleted_files | gone)
    finally:
        client.close()
    check_invariants(server)
    ledger.observe(current, deleted, gone)


def _check_versions(client: httpx.Client, ledger: Ledger) -> tuple[set[str], set[str]]:
    """Every acknowledged version and delete; returns what deletes of unknown outcome did."""
    deleted: set[str] = set()
    gone = {
        op.file_id
        for op in ledger.unknown
        if op.kind == "delete_file"
        and op.file_id is not None
        and client.get(f"/v1/files/{op.file_id}/details").status_code == 404
    }
    for version_id, (file_id, sha) in ledger.live_versions().items():
        response = client.get(f"/v1/files/{file_id}/versions/{version_id}")
        if response.status_code == 404 and ledger.maybe_deleted(version_id, file_id):
            deleted.add(version_id)  # its delete was in flight when the server died
            continue
        assert response.status_code == 200, (
            f"acknowledged version {version_id} answers {response.status_code}"
        )
        content = httpx.get(response.json()["url"], timeout=30).content
        assert hashlib.sha256(content).hexdigest() == sha, f"{version_id} has other bytes"
    for version_id in ledger.deleted_versions:
        file_id = ledger.versions[version_id][0]
        response = client.get(f"/v1/files/{file_id}/versions/{version_id}")
        assert response.status_code == 404, f"deleted version {version_id} came back"
    for file_id in ledger.deleted_files:
        assert client.get(f"/v1/files/{file_id}/details").status_code == 404, (
            f"deleted file {file_id} came back"
        )
    return deleted, gone


def _check_current(client: httpx.Client, ledger: Ledger, deleted_files: set[str]) -> dict[str, str]:
    """Each live file's current version is one the acknowledged requests allow."""
    current: dict[str, str] = {}
    for file_id in sorted(set(ledger.paths) - deleted_files):
        response = client.get(f"/v1/files/{file_id}/details")
        assert response.status_code == 200, f"file {file_id} answers {response.status_code}"
        version_id = response.json()["versionInfo"]["id"]
        in_effect = ledger.in_effect(file_id)
        candidates = {op.version_id or UNKNOWN_VERSION for op in in_effect}
        known = version_id in ledger.versions
        assert version_id in candidates or (not known and UNKNOWN_VERSION in candidates), (
            f"file {file_id}: {version_id} is current, but the acknowledged requests leave "
            f"only {sorted(candidates)}"
        )
        ledger.restores_verified += sum(
            1
            for op in in_effect
            if op.kind == "restore" and op.acknowledged and op.version_id == version_id
        )
        current[file_id] = version_id
    return current


MIN_UPLOADS_PER_CYCLE = 4


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
        # A random moment, but not before the cycle has some acknowledged writes to lose: on a
        # loaded machine the first second of a cycle may see none.
        before = len(ledger.versions)
        time.sleep(rng.uniform(0.3, 2.0))
        deadline = time.monotonic() + 30
        while len(ledger.versions) - before < MIN_UPLOADS_PER_CYCLE and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # mid-traffic: requests are in flight in every worker
        stop.set()
        for worker in workers_:
            worker.join()
        ledger.settle_unknown()
        server.port = free_port()
        server.start()
        verify(server, ledger)
        server.stop()
        print(f"cycle {cycle + 1}/{cycles}: {summary(ledger)}", flush=True)
    return ledger


def summary(ledger: Ledger) -> str:
    restores = sum(n for answer, n in ledger.answers.items() if answer.startswith("restore 2"))
    fivexx = sum(n for answer, n in ledger.answers.items() if answer.split()[1].startswith("5"))
    return (
        f"{len(ledger.versions)} versions acknowledged, {len(ledger.deleted_versions)} version "
        f"and {len(ledger.deleted_files)} file deletes, {restores} restores "
        f"({ledger.restores_verified} found current, not overridden), "
        f"{ledger.unknown_total} requests of unknown outcome settled, {fivexx} 5xx; "
        "all present, fsck clean"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Kill the server mid-traffic and verify.")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-crash-") as tmp:
        ledger = run(Path(tmp), args.cycles, args.workers, args.seed)
    print("answers:", ", ".join(f"{k}: {v}" for k, v in sorted(ledger.answers.items())))


if __name__ == "__main__":
    main()
