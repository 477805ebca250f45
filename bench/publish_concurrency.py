"""Small uploads while a large one publishes (issue 10): no long work inside a transaction.

    .venv/bin/python bench/publish_concurrency.py [--big-mib 1024] [--clients 4] [--seconds 5]

On SQLite every write waits for the one writer. Publishing a blob (an object store's copy of
the staged upload to its content address, seconds per GiB) runs before the version's short
transaction, never inside it, so uploads to other files keep completing while a large one
publishes. This measures it, on the embedded default (SQLite and local disk) and on SQLite
with SeaweedFS as the S3 blob store, each on a `mediavault serve` of its own:

1. baseline: N clients (threads, one httpx connection each) upload 10 KiB files, each to a new
   file name, for a few seconds with nothing else running: completed uploads per second;
2. the same loop while one more client uploads a large file streamed from disk. The "publish
   window" runs from the moment its body's last file byte was handed to the socket to its
   answer: staging's flush, publishing, the version's transaction. Reported: small uploads
   completed inside that window per second, their p50 and p99 latency, and that rate divided
   by the baseline's.

The same is measured on SeaweedFS alone, as the peer: the object-store calls of a small upload
(PUT to a staging key, CopyObject, DELETE), baseline and during a CopyObject of the large
object, which is what publishing asks of the store. On S3 the small uploads cannot keep more
of their pace than the store itself keeps of its own.

Everything listens on 127.0.0.1 and lives in a temporary folder (`BENCH_DIR` picks its
parent). The output is Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite import random_file, seaweedfs
from tests.support import TEST_KEY, ServerProcess, free_port

UPLOAD = "/api/v1/files/upload"
AUTH = (TEST_KEY, "")
SMALL_BYTES = 10 * 1024
LEAD_IN_S = 1.0  # small uploads run alone this long before the large upload starts
BUCKET = "mediavault"  # a plain bucket, as `scripts/backends` makes for the tests
PEER_BUCKET = "peer"  # SeaweedFS alone, the same calls without mediavault


class TimedFile:
    """A file on disk, read by httpx a chunk at a time; notes when the last chunk was taken.

    httpx asks for the next chunk only once the previous one has been written to the socket,
    so the read that returns b"" comes right after the last file byte left the client (only
    the multipart closing boundary follows). `fileno` lets httpx send a Content-Length."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.started_at: float | None = None
        self.finished_at: float | None = None

    def fileno(self) -> int:
        return self._file.fileno()

    def read(self, size: int = -1) -> bytes:
        if self.started_at is None:
            self.started_at = time.monotonic()
        chunk = self._file.read(size)
        if not chunk and self.finished_at is None:
            self.finished_at = time.monotonic()
        return chunk

    def close(self) -> None:
        self._file.close()


@dataclass
class Small:
    started: float
    ended: float
    status: int


def mediavault_upload(client: httpx.Client, name: str) -> int:
    """One small upload to mediavault: a new file of 10 KiB."""
    response = client.post(
        UPLOAD,
        data={"fileName": name},
        files={"file": (name, os.urandom(SMALL_BYTES), "application/octet-stream")},
    )
    return response.status_code


def s3_calls_of_an_upload(client: httpx.Client, name: str) -> int:
    """What a small upload asks of the object store, straight to SeaweedFS: PUT to a staging
    key, CopyObject to the final key, DELETE of the staging key."""
    staged = client.put(f"/{PEER_BUCKET}/staging/{name}", content=os.urandom(SMALL_BYTES))
    if staged.status_code != 200:
        return staged.status_code
    copy = {"x-amz-copy-source": f"/{PEER_BUCKET}/staging/{name}"}
    copied = client.put(f"/{PEER_BUCKET}/{name}", headers=copy)
    if copied.status_code != 200:
        return copied.status_code
    deleted = client.delete(f"/{PEER_BUCKET}/staging/{name}")
    return 200 if deleted.status_code == 204 else deleted.status_code


class SmallUploads:
    """N threads, each repeating a small upload (a new name each time) until stopped."""

    def __init__(
        self,
        base_url: str,
        clients: int,
        tag: str,
        operation: Callable[[httpx.Client, str], int] = mediavault_upload,
        auth: tuple[str, str] | None = AUTH,
    ) -> None:
        self.base_url, self.tag, self.operation, self.auth = base_url, tag, operation, auth
        self.done: list[Small] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def _run(self, number: int) -> None:
        with httpx.Client(base_url=self.base_url, auth=self.auth, timeout=600) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                started = time.monotonic()
                status = self.operation(client, f"{self.tag}-{number}-{n}.bin")
                with self._lock:
                    self.done.append(Small(started, time.monotonic(), status))

    def __enter__(self) -> SmallUploads:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=600)
        failed = [s.status for s in self.done if s.status != 200]
        if failed:
            raise RuntimeError(f"{len(failed)} small uploads failed: statuses {set(failed)}")

    def between(self, start: float, end: float) -> list[Small]:
        with self._lock:
            return [s for s in self.done if start <= s.ended <= end]


def percentile_ms(smalls: list[Small], q: float) -> float:
    """Nearest-rank percentile of the latencies, in milliseconds (NaN when there are none)."""
    if not smalls:
        return float("nan")
    latencies = sorted(s.ended - s.started for s in smalls)
    return latencies[max(0, math.ceil(q * len(latencies)) - 1)] * 1000


@dataclass
class Result:
    configuration: str
    baseline_rate: float
    baseline_p50_ms: float
    baseline_p99_ms: float
    body_s: float  # sending the large body
    window_s: float  # its last byte sent → its answer
    in_window: list[Small]

    @property
    def window_rate(self) -> float:
        return len(self.in_window) / self.window_s

    @property
    def ratio(self) -> float:
        return self.window_rate / self.baseline_rate


def baseline_of(loops: Callable[[str], SmallUploads], seconds: float) -> list[Small]:
    """The small uploads alone: a second of warm-up, then `seconds` measured."""
    with loops("base") as loop:
        time.sleep(1.0)
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
    return [s for s in loop.done if start <= s.ended <= end]


def result_of(
    configuration: str,
    seconds: float,
    baseline: list[Small],
    body_s: float,
    window: tuple[float, float],
    loop: SmallUploads,
) -> Result:
    return Result(
        configuration=configuration,
        baseline_rate=len(baseline) / seconds,
        baseline_p50_ms=percentile_ms(baseline, 0.50),
        baseline_p99_ms=percentile_ms(baseline, 0.99),
        body_s=body_s,
        window_s=window[1] - window[0],
        in_window=loop.between(*window),
    )


def measure(
    configuration: str, server: ServerProcess, big: Path, clients: int, seconds: float
) -> Result:
    def loops(tag: str) -> SmallUploads:
        return SmallUploads(server.base_url, clients, tag)

    baseline = baseline_of(loops, seconds)
    os.sync()  # no writeback of the baseline's writes left for the window to pay for
    body = TimedFile(big)
    try:
        with loops("during") as loop:
            time.sleep(LEAD_IN_S)
            response = httpx.post(
                server.base_url + UPLOAD,
                auth=AUTH,
                data={"fileName": "big.bin", "useUniqueFileName": "false"},
                files={"file": ("big.bin", cast(IO[bytes], body), "application/octet-stream")},
                timeout=3600,
            )
            answered = time.monotonic()
    finally:
        body.close()
    if response.status_code != 200 or response.json()["size"] != big.stat().st_size:
        raise RuntimeError(f"the large upload failed: {response.status_code} {response.text}")
    assert body.started_at is not None and body.finished_at is not None
    window = (body.finished_at, answered)
    return result_of(
        configuration, seconds, baseline, body.finished_at - body.started_at, window, loop
    )


def measure_peer(endpoint: str, big: Path, clients: int, seconds: float) -> Result:
    """SeaweedFS alone: the object-store calls of small uploads, while it copies the large
    object on the server side (what publishing asks of it). The "body" is the large PUT."""

    def loops(tag: str) -> SmallUploads:
        return SmallUploads(endpoint, clients, tag, s3_calls_of_an_upload, auth=None)

    httpx.put(f"{endpoint}/{PEER_BUCKET}").raise_for_status()
    os.sync()
    started = time.monotonic()
    subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", "-T", str(big), f"{endpoint}/{PEER_BUCKET}/big.bin"],
        check=True,
    )
    body_s = time.monotonic() - started
    baseline = baseline_of(loops, seconds)
    os.sync()
    with loops("during") as loop:
        time.sleep(LEAD_IN_S)
        copy_started = time.monotonic()
        httpx.put(
            f"{endpoint}/{PEER_BUCKET}/big-copy.bin",
            headers={"x-amz-copy-source": f"/{PEER_BUCKET}/big.bin"},
            timeout=3600,
        ).raise_for_status()
        window = (copy_started, time.monotonic())
    return result_of("SeaweedFS alone", seconds, baseline, body_s, window, loop)


@contextmanager
def mediavault(data: Path, workers: int, env: dict[str, str]) -> Iterator[ServerProcess]:
    server = ServerProcess(data=data, port=free_port(), workers=workers, env=env)
    server.backend = {}  # exactly the settings given here, whatever the test variables say
    server.start()
    try:
        yield server
    finally:
        server.stop()


def s3_settings(endpoint: str) -> dict[str, str]:
    """A plain (unversioned) bucket on SeaweedFS, as the scale-out tests use; SeaweedFS with no
    identities configured accepts any signature, so the credentials are placeholders."""
    httpx.put(f"{endpoint}/{BUCKET}").raise_for_status()
    return {
        "MEDIAVAULT_BLOB_URL": f"s3://{BUCKET}/publish-bench",
        "MEDIAVAULT_S3_ENDPOINT": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
    }


def render(results: list[Result], peer: Result, args: argparse.Namespace) -> str:
    lines = [
        f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 1024**3:.0f} GiB; "
        f"mediavault with {args.workers} granian worker(s); {args.clients} small-upload clients "
        f"(10 KiB each, a new file each); baseline {args.seconds:g} s; large upload "
        f"{args.big_mib} MiB, streamed from disk with httpx.",
        "",
        "| configuration | publish window s | small uploads in window "
        "| small uploads/s baseline | small uploads/s in window | ratio "
        "| p50 ms in window | p99 ms in window |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.configuration} | {r.window_s:.1f} | {len(r.in_window)} "
            f"| {r.baseline_rate:.1f} | {r.window_rate:.1f} | {r.ratio:.2f} "
            f"| {percentile_ms(r.in_window, 0.50):.0f} | {percentile_ms(r.in_window, 0.99):.0f} |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f"- {r.configuration}: baseline p50 {r.baseline_p50_ms:.0f} ms, "
            f"p99 {r.baseline_p99_ms:.0f} ms; large body sent in {r.body_s:.1f} s "
            f"({args.big_mib / r.body_s:.0f} MiB/s)."
        )
    lines.append(
        f"- SeaweedFS alone, the same {args.clients} clients each making a small upload's "
        "object-store calls (PUT of 10 KiB to a staging key, CopyObject, DELETE): "
        f"{peer.baseline_rate:.1f}/s baseline, {peer.window_rate:.1f}/s during a "
        f"{args.big_mib} MiB CopyObject ({peer.window_s:.1f} s): ratio {peer.ratio:.2f}, "
        f"p50 {percentile_ms(peer.in_window, 0.50):.0f} ms, "
        f"p99 {percentile_ms(peer.in_window, 0.99):.0f} ms."
    )
    lines += [
        "",
        "Command: `.venv/bin/python bench/publish_concurrency.py "
        f"--big-mib {args.big_mib} --clients {args.clients} --seconds {args.seconds:g} "
        f"--workers {args.workers}`",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large upload")
    parser.add_argument("--clients", type=int, default=4, help="small-upload clients")
    parser.add_argument("--seconds", type=float, default=5, help="length of the baseline")
    parser.add_argument("--workers", type=int, default=1, help="granian workers (serve's default)")
    args = parser.parse_args()
    # SeaweedFS is started without identities (anonymous bucket set-up); AWS_* in this
    # environment would make `weed mini` create one. The server gets its own below.
    for name in list(os.environ):
        if name.startswith(("MEDIAVAULT_TEST_", "AWS_")):
            del os.environ[name]
    results = []
    with tempfile.TemporaryDirectory(prefix="mv-publish-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        big = random_file(root / "big.bin", args.big_mib * 1024 * 1024)
        os.sync()
        with mediavault(root / "local", args.workers, {}) as server:
            results.append(measure("SQLite + local disk", server, big, args.clients, args.seconds))
        os.sync()
        with seaweedfs(root) as endpoint:
            with mediavault(root / "s3", args.workers, s3_settings(endpoint)) as server:
                results.append(
                    measure("SQLite + SeaweedFS S3", server, big, args.clients, args.seconds)
                )
            os.sync()
            peer = measure_peer(endpoint, big, args.clients, args.seconds)
    print(render(results, peer, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
