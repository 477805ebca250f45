"""The benchmark suite: mediavault against the machine's limits and against SeaweedFS.

    bench/run            # installs wrk and nginx if missing, then runs this
    .venv/bin/python bench/suite.py [--seconds 8] [--big-mib 1024] [--out BENCHMARKS-run.md]

Every figure is a ratio against a baseline measured on the same machine in the same run:
a bare Starlette app on the same ASGI server (the ceiling), SeaweedFS with S3 bucket
versioning (the peer), `dd` with fdatasync (the disk) and nginx (file serving). wrk is the load
generator, with one thread, so that it leaves the servers most of the two cores. Everything
listens on 127.0.0.1 and lives in a temporary folder. The output is Markdown for BENCHMARKS.md.
The 1M-file scale figure is a separate, longer command: bench/scale.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import TEST_KEY, ServerProcess, free_port

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
AUTH_HEADER = "Authorization: Basic " + base64.b64encode(f"{TEST_KEY}:".encode()).decode()
VERSIONING_ON = (
    '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Status>Enabled</Status></VersioningConfiguration>"
)


# --- load generation ---------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    p50_ms: float
    bytes_per_s: float


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def wrk(
    url: str, seconds: float, connections: int, *, auth: bool = False, headers: tuple[str, ...] = ()
) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    for header in headers:
        command[1:1] = ["-H", header]
    if auth:
        command[1:1] = ["-H", AUTH_HEADER]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures on {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s|m)\b", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    assert p50 and transfer, out
    return Load(
        rps=rps,
        p50_ms=float(p50.group(1)) * _UNITS[p50.group(2)],
        bytes_per_s=float(transfer.group(1)) * _SIZES[transfer.group(2)],
    )


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# --- the servers ----------------------------------------------------------------------------


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    command: list[str], ready_url: str, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        child = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )
        try:
            wait_for(ready_url)
            yield child
        finally:
            os.killpg(child.pid, 15)
            child.wait(timeout=30)


@contextmanager
def hello_world(root: Path, workers: int) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        str(BENCH / "hello_app.py"),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with process(command, f"http://127.0.0.1:{port}/", root / "hello.log", cwd=BENCH):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def seaweedfs(root: Path) -> Iterator[str]:
    port = free_port()
    ports = [free_port() for _ in range(4)]
    command = [
        str(VENV_BIN / "weed"), "mini", f"-dir={root / 'weed'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-bucket=bench",
        f"-s3.port={port}", f"-master.port={ports[0]}", f"-volume.port={ports[1]}",
        f"-filer.port={ports[2]}", f"-admin.port={ports[3]}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    (root / "weed").mkdir()
    url = f"http://127.0.0.1:{port}"
    with process(command, url, root / "weed.log"):
        deadline = time.monotonic() + 60
        while httpx.put(f"{url}/bench?versioning", content=VERSIONING_ON).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("SeaweedFS did not accept the versioning configuration")
            time.sleep(0.5)
        yield url


@contextmanager
def nginx(root: Path, www: Path, workers: int) -> Iterator[str]:
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"daemon off; user root; worker_processes {workers}; pid {root}/nginx.pid;\n"
        f"error_log {root}/nginx-error.log;\nevents {{}}\n"
        "http { access_log off; sendfile on; tcp_nopush on;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {www}; }} }}\n"
    )
    with process(
        ["nginx", "-c", str(conf), "-p", str(root)], f"http://127.0.0.1:{port}/", root / "nginx.log"
    ):
        yield f"http://127.0.0.1:{port}"


class PeakRss:
    """Samples a process tree's RSS while a block runs: the peak of the whole tree and of the
    largest single process (a worker)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.total = self.single = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            sizes = []
            for p in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    sizes.append(p.memory_info().rss)
            self.total, self.single = max(self.total, sum(sizes)), max(self.single, max(sizes))
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- set-up helpers -----------------------------------------------------------------------


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        remaining = size
        while remaining:
            chunk = min(remaining, 16 * 1024 * 1024)
            out.write(os.urandom(chunk))
            remaining -= chunk
    return path


def mv_upload(client: httpx.Client, name: str, content: bytes | Path) -> dict[str, object]:
    if isinstance(content, Path):
        # curl streams a file from disk; httpx would hold a 1 GiB body in memory first.
        out = subprocess.run(
            ["curl", "-sf", "-u", f"{TEST_KEY}:", "-F", f"fileName={name}",
             "-F", "useUniqueFileName=false", "-F", f"file=@{content}",
             f"{client.base_url}/api/v1/files/upload"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)
    response = client.post(
        "/api/v1/files/upload",
        files={"file": (name, content)},
        data={"fileName": name, "useUniqueFileName": "false"},
    )
    response.raise_for_status()
    return response.json()


def version_of(uploaded: dict[str, object]) -> tuple[str, str]:
    info = uploaded["versionInfo"]
    assert isinstance(info, dict)
    return str(uploaded["fileId"]), str(info["id"])


def s3_put(url: str, key: str, content: bytes | Path) -> str:
    if isinstance(content, Path):
        out = subprocess.run(
            ["curl", "-sf", "-D", "-", "-o", "/dev/null", "-T", str(content), f"{url}/bench/{key}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return re.search(r"(?i)x-amz-version-id:\s*(\S+)", out).group(1)  # type: ignore[union-attr]
    response = httpx.put(f"{url}/bench/{key}", content=content)
    response.raise_for_status()
    return response.headers["x-amz-version-id"]


def s3_restore(url: str, key: str, version_id: str) -> None:
    response = httpx.put(
        f"{url}/bench/{key}",
        headers={"x-amz-copy-source": f"/bench/{key}?versionId={version_id}"},
        timeout=600,
    )
    response.raise_for_status()


def blob_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "blobs").rglob("*") if p.is_file())


# --- the run ------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: float
    baseline: float
    unit: str
    ratio: float  # NaN where the pair is not a ratio (peak RSS, bytes added)
    target: str
    passed: bool | None  # None: reported, no target


@dataclass
class Inputs:
    root: Path
    seconds: float
    cores: int
    big_mib: int
    big: Path  # random bytes, big_mib MiB
    hundred_mb: Path  # random bytes, in the folder nginx serves
    small: bytes = field(default_factory=lambda: os.urandom(1024))

    @property
    def big_size(self) -> int:
        return self.big_mib * 1024 * 1024


@dataclass
class MediavaultRun:
    details: Load
    listing: Load
    listing_one_connection: Load
    bytes_added_by_reupload: int
    bytes_added_by_restore: int
    upload_s: float
    rss: PeakRss
    restore_big_s: float
    restore_tiny_s: float
    delivery: Load


@dataclass
class PeerRun:
    version_get: Load
    list_versions: Load
    upload_s: float
    restore_big_s: float
    restore_tiny_s: float


def measure_disk(inputs: Inputs) -> float:
    """dd from a clean page cache; every large write after it starts after a sync too, so
    none of them pays for another's writeback."""
    os.sync()
    out = inputs.root / "dd.bin"
    seconds = timed(lambda: subprocess.run(
        ["dd", "if=/dev/zero", f"of={out}", "bs=1M", f"count={inputs.big_mib}", "conv=fdatasync"],
        capture_output=True, check=True,
    ))  # fmt: skip
    out.unlink()
    os.sync()
    return seconds


def measure_ceiling(inputs: Inputs) -> Load:
    with hello_world(inputs.root, inputs.cores) as hello:
        wrk(f"{hello}/", 2, 32)  # warm up
        return wrk(f"{hello}/", inputs.seconds, 32)


def measure_mediavault(inputs: Inputs) -> MediavaultRun:
    server = ServerProcess(data=inputs.root / "data", port=free_port(), workers=inputs.cores)
    server.start()
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=600)
    seconds = inputs.seconds
    try:
        # A file with 100 versions; details of a version in the middle.
        for n in range(100):
            hundred = mv_upload(client, "hundred.bin", f"version {n}".encode())
        hundred_id = str(hundred["fileId"])
        versions = client.get(f"/v1/files/{hundred_id}/versions").json()
        details_url = (
            f"{server.base_url}/v1/files/{hundred_id}/versions/{versions[50]['versionInfo']['id']}"
        )
        list_url = f"{server.base_url}/v1/files/{hundred_id}/versions"
        wrk(details_url, 2, 32, auth=True)
        details = wrk(details_url, seconds, 32, auth=True)
        listing = wrk(list_url, seconds, 32, auth=True)
        listing_one = wrk(list_url, seconds, 1, auth=True)

        # Blob bytes added by an identical re-upload and by a restore.
        same = os.urandom(64 * 1024)
        same_id, same_v1 = version_of(mv_upload(client, "same.bin", same))
        before = blob_bytes(server.data)
        mv_upload(client, "same.bin", same)
        after_reupload = blob_bytes(server.data)
        client.put(f"/v1/files/{same_id}/versions/{same_v1}/restore").raise_for_status()
        after_restore = blob_bytes(server.data)

        # The large upload, then a small version over it, then restores of each size.
        os.sync()
        assert server.process is not None
        with PeakRss(server.process.pid) as rss:
            started = time.perf_counter()
            big_id, big_version = version_of(mv_upload(client, "big.bin", inputs.big))
            upload_s = time.perf_counter() - started
        mv_upload(client, "big.bin", inputs.small)
        tiny_id, tiny_version = version_of(mv_upload(client, "tiny.bin", inputs.small))
        mv_upload(client, "tiny.bin", os.urandom(1024))

        def restore(file_id: str, version_id: str) -> float:
            url = f"/v1/files/{file_id}/versions/{version_id}/restore"
            return timed(lambda: client.put(url).raise_for_status())

        restore_big = statistics.median(restore(big_id, big_version) for _ in range(5))
        restore_tiny = statistics.median(restore(tiny_id, tiny_version) for _ in range(5))

        delivered = str(mv_upload(client, "h100.bin", inputs.hundred_mb)["url"])
        wrk(delivered, 2, 2)
        delivery = wrk(delivered, seconds, 2)
    finally:
        client.close()
        server.stop()
    return MediavaultRun(
        details, listing, listing_one, after_reupload - before, after_restore - after_reupload,
        upload_s, rss, restore_big, restore_tiny, delivery,
    )  # fmt: skip


def measure_seaweedfs(inputs: Inputs) -> PeerRun:
    with seaweedfs(inputs.root) as s3:
        ids = [s3_put(s3, "hundred.bin", f"version {n}".encode()) for n in range(100)]
        # wrk cannot time HEAD (it waits for the body its Content-Length announces), so the
        # peer's figure is GetObject ?versionId of the same 9-byte version: HEAD plus 9 bytes.
        get_url = f"{s3}/bench/hundred.bin?versionId={ids[50]}"
        wrk(get_url, 2, 32)
        version_get = wrk(get_url, inputs.seconds, 32)
        list_versions = wrk(f"{s3}/bench?versions&prefix=hundred.bin", inputs.seconds, 32)
        os.sync()
        started = time.perf_counter()
        big_version = s3_put(s3, "big.bin", inputs.big)
        upload_s = time.perf_counter() - started
        s3_put(s3, "big.bin", inputs.small)
        tiny_version = s3_put(s3, "tiny.bin", inputs.small)
        s3_put(s3, "tiny.bin", os.urandom(1024))

        def restore(key: str, version_id: str) -> float:
            return statistics.median(
                timed(lambda: s3_restore(s3, key, version_id)) for _ in range(3)
            )

        return PeerRun(
            version_get, list_versions, upload_s,
            restore("big.bin", big_version), restore("tiny.bin", tiny_version),
        )  # fmt: skip


def measure_nginx(inputs: Inputs) -> Load:
    with nginx(inputs.root, inputs.hundred_mb.parent, inputs.cores) as web:
        url = f"{web}/{inputs.hundred_mb.name}"
        wrk(url, 2, 2)
        return wrk(url, inputs.seconds, 2)


# --- reads (issue 11): 10 KiB deliveries, 304s, list and details ---------------------------

SMALL = 10 * 1024  # bytes of the small delivered version


@dataclass
class ReadLoads:
    """One mediavault server's read figures, all at 32 connections."""

    deliver: Load  # 10 KiB, the current version at its plain URL
    deliver_version: Load  # 10 KiB, an older version by its ik-obj-version URL
    not_modified: Load  # the plain URL with If-None-Match of its ETag: 304s
    details: Load  # GET a version of a file with 100 versions
    listing: Load  # GET the 100 versions


@dataclass
class ReadsRun:
    hello: dict[int, Load]  # the ASGI ceiling, by worker count
    mediavault: dict[int, ReadLoads]  # by worker count
    peer_get: Load  # SeaweedFS GET ?versionId of an older 10 KiB version
    peer_list: Load  # SeaweedFS ListObjectVersions of 100 versions


READ_WORKERS = (1, 2)


def measure_reads(inputs: Inputs) -> ReadsRun:
    """The read figures on one worker and on two, each against its baseline of this run."""
    root = inputs.root / "reads"
    root.mkdir()
    older, current = os.urandom(SMALL), os.urandom(SMALL)
    hello = {}
    for workers in READ_WORKERS:
        with hello_world(root, workers) as url:
            wrk(f"{url}/", 2, 32)
            hello[workers] = wrk(f"{url}/", inputs.seconds, 32)
    loads = {
        workers: _mediavault_reads(root, workers, inputs.seconds, older, current)
        for workers in READ_WORKERS
    }
    with seaweedfs(root) as s3:
        older_id = s3_put(s3, "small.bin", older)
        s3_put(s3, "small.bin", current)
        for n in range(100):
            s3_put(s3, "hundred.bin", f"version {n}".encode())
        get_url = f"{s3}/bench/small.bin?versionId={older_id}"
        wrk(get_url, 2, 32)
        peer_get = wrk(get_url, inputs.seconds, 32)
        peer_list = wrk(f"{s3}/bench?versions&prefix=hundred.bin", inputs.seconds, 32)
    return ReadsRun(hello, loads, peer_get, peer_list)


def _mediavault_reads(
    root: Path, workers: int, seconds: float, older: bytes, current: bytes
) -> ReadLoads:
    data = root / f"data-{workers}"
    server = ServerProcess(data=data, port=free_port(), workers=workers).start()
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60)
    try:
        mv_upload(client, "small.bin", older)
        file_id = str(mv_upload(client, "small.bin", current)["fileId"])
        small_versions = client.get(f"/v1/files/{file_id}/versions").json()
        plain = str(small_versions[0]["url"]).split("?")[0]
        by_token = str(small_versions[1]["url"])
        assert "ik-obj-version=" in by_token and httpx.get(by_token).content == older
        etag = httpx.get(plain).headers["etag"]
        for n in range(100):
            hundred = mv_upload(client, "hundred.bin", f"version {n}".encode())
        hundred_id = str(hundred["fileId"])
        versions = client.get(f"/v1/files/{hundred_id}/versions").json()
        details_url = (
            f"{server.base_url}/v1/files/{hundred_id}/versions/{versions[50]['versionInfo']['id']}"
        )
        wrk(plain, 2, 32)
        wrk(details_url, 2, 32, auth=True)
        return ReadLoads(
            deliver=wrk(plain, seconds, 32),
            deliver_version=wrk(by_token, seconds, 32),
            not_modified=wrk(plain, seconds, 32, headers=(f"If-None-Match: {etag}",)),
            details=wrk(details_url, seconds, 32, auth=True),
            listing=wrk(
                f"{server.base_url}/v1/files/{hundred_id}/versions", seconds, 32, auth=True
            ),
        )
    finally:
        client.close()
        server.stop()


def read_figures(reads: ReadsRun) -> list[Figure]:
    figures = []
    peer_get, peer_list = reads.peer_get, reads.peer_list
    for workers, mv in reads.mediavault.items():
        hello = reads.hello[workers]
        on = f"{workers} worker{'s' if workers > 1 else ''}"
        for name, load in (
            ("current, plain URL", mv.deliver),
            ("by ik-obj-version", mv.deliver_version),
        ):
            figures += [
                Figure(f"deliver 10 KiB, {name}, {on}: req/s ÷ SeaweedFS GET ?versionId (10 KiB)",
                       load.rps, peer_get.rps, "req/s", load.rps / peer_get.rps, "≥ 1.5",
                       load.rps / peer_get.rps >= 1.5),
                Figure(f"deliver 10 KiB, {name}, {on}: p50 at 32 connections", load.p50_ms, 5,
                       "ms", load.p50_ms / 5, "< 5 ms", load.p50_ms < 5),
            ]  # fmt: skip
        ratio = mv.not_modified.rps / hello.rps
        figures.append(
            Figure(f"304 (If-None-Match), {on}: req/s ÷ ASGI hello-world ({on})",
                   mv.not_modified.rps, hello.rps, "req/s", ratio, "≥ 0.5", ratio >= 0.5)
        )  # fmt: skip
        if workers != 1:
            continue  # the list and details targets are for one worker
        details, listing = mv.details.rps / hello.rps, mv.listing.rps / peer_list.rps
        figures += [
            Figure(f"GET version details, {on}: req/s ÷ ASGI hello-world ({on})",
                   mv.details.rps, hello.rps, "req/s", details, "≥ 0.5", details >= 0.5),
            Figure(f"list versions (100), {on}: req/s ÷ SeaweedFS ListObjectVersions (100)",
                   mv.listing.rps, peer_list.rps, "req/s", listing, "≥ 1.5", listing >= 1.5),
            Figure(f"list versions (100), {on}: p50 at 32 connections", mv.listing.p50_ms, 10,
                   "ms", mv.listing.p50_ms / 10, "< 10 ms", mv.listing.p50_ms < 10),
        ]  # fmt: skip
    return figures


def read_notes(reads: ReadsRun) -> list[str]:
    hello = ", ".join(f"{w} worker(s) {load.rps:.0f} req/s" for w, load in reads.hello.items())
    return [
        f"Read figures: ASGI hello-world {hello}; SeaweedFS GET ?versionId (10 KiB) "
        f"{reads.peer_get.rps:.0f} req/s (p50 {reads.peer_get.p50_ms:.1f} ms), "
        f"ListObjectVersions (100) {reads.peer_list.rps:.0f} req/s."
    ]


def figures_of(
    inputs: Inputs, dd_s: float, ceiling: Load, mv: MediavaultRun, peer: PeerRun, web: Load
) -> list[Figure]:
    mib = 1024 * 1024
    size, big = inputs.big_size, f"{inputs.big_mib} MiB"
    upload, dd, peer_upload = (
        size / mv.upload_s / mib,
        size / dd_s / mib,
        size / peer.upload_s / mib,
    )
    delivery, nginx_delivery = mv.delivery.bytes_per_s / mib, web.bytes_per_s / mib
    nan = float("nan")
    return [
        Figure("GET version details req/s ÷ ASGI hello-world req/s", mv.details.rps,
               ceiling.rps, "req/s", mv.details.rps / ceiling.rps, "≥ 0.40",
               mv.details.rps / ceiling.rps >= 0.40),
        Figure("GET version details req/s ÷ SeaweedFS GET ?versionId (9 bytes) req/s",
               mv.details.rps, peer.version_get.rps, "req/s",
               mv.details.rps / peer.version_get.rps, "≥ 1.0",
               mv.details.rps >= peer.version_get.rps),
        Figure("list versions (100) req/s ÷ SeaweedFS ListObjectVersions (100)",
               mv.listing.rps, peer.list_versions.rps, "req/s",
               mv.listing.rps / peer.list_versions.rps, "≥ 1.0",
               mv.listing.rps >= peer.list_versions.rps),
        Figure(f"restore of a {big} version ÷ restore of a 1 KiB version (time)",
               mv.restore_big_s * 1000, mv.restore_tiny_s * 1000, "ms",
               mv.restore_big_s / mv.restore_tiny_s, "≤ 1.5",
               mv.restore_big_s / mv.restore_tiny_s <= 1.5),
        Figure(f"SeaweedFS: restore (CopyObject) {big} ÷ 1 KiB (time)",
               peer.restore_big_s * 1000, peer.restore_tiny_s * 1000, "ms",
               peer.restore_big_s / peer.restore_tiny_s, "report", None),
        Figure(f"upload {big} throughput ÷ dd write (fdatasync)", upload, dd, "MiB/s",
               upload / dd, "≥ 0.6", upload / dd >= 0.6),
        Figure("server peak RSS during that upload (largest process; whole server)",
               mv.rss.single / 1e6, mv.rss.total / 1e6, "MB", nan, "≤ 150 MB",
               mv.rss.single / 1e6 <= 150),
        Figure(f"upload {big} throughput ÷ SeaweedFS PUT of the same file", upload,
               peer_upload, "MiB/s", upload / peer_upload, "≥ 1.0", upload >= peer_upload),
        Figure("delivery of a 100 MB version ÷ nginx, same file (throughput)", delivery,
               nginx_delivery, "MiB/s", delivery / nginx_delivery, "≥ 0.5",
               delivery / nginx_delivery >= 0.5),
        Figure("list-versions p50 at 100 versions (one connection)",
               mv.listing_one_connection.p50_ms, 10, "ms",
               mv.listing_one_connection.p50_ms / 10, "< 10 ms",
               mv.listing_one_connection.p50_ms < 10),
        Figure("blob bytes added: identical re-upload / restore", mv.bytes_added_by_reupload,
               mv.bytes_added_by_restore, "bytes", nan, "0 / 0",
               mv.bytes_added_by_reupload == 0 and mv.bytes_added_by_restore == 0),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large upload")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    # The figures are for the embedded default, whatever backends the test variables name.
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    for tool in ("wrk", "nginx", "curl", "dd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run bench/run, which installs it")
    with tempfile.TemporaryDirectory(prefix="mv-suite-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        inputs = Inputs(
            root=root,
            seconds=args.seconds,
            cores=os.cpu_count() or 1,
            big_mib=args.big_mib,
            big=random_file(root / "big.bin", args.big_mib * 1024 * 1024),
            hundred_mb=random_file(root / "www" / "h100.bin", 100 * 1024 * 1024),
        )
        dd_s = measure_disk(inputs)
        ceiling = measure_ceiling(inputs)
        mv = measure_mediavault(inputs)
        peer = measure_seaweedfs(inputs)
        web = measure_nginx(inputs)
        reads = measure_reads(inputs)
    figures = figures_of(inputs, dd_s, ceiling, mv, peer, web) + read_figures(reads)
    notes = [
        f"ASGI hello-world: {ceiling.rps:.0f} req/s; SeaweedFS GET ?versionId "
        f"{peer.version_get.rps:.0f} req/s, ListObjectVersions {peer.list_versions.rps:.0f} req/s",
        *read_notes(reads),
    ]
    report = render(figures, inputs.cores, args, notes)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0 if all(f.passed is not False for f in figures) else 1


def render(figures: list[Figure], cores: int, args: argparse.Namespace, notes: list[str]) -> str:
    lines = [
        f"Machine: {cores} cores, {psutil.virtual_memory().total / 1024**3:.0f} GiB; "
        f"wrk with 1 thread, {args.seconds:.0f} s per run; mediavault and the hello-world app "
        f"with {cores} granian workers; SQLite and local disk.",
        "",
        "| figure | mediavault | baseline | ratio | target | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    for f in figures:
        ratio = "" if f.ratio != f.ratio else f"{f.ratio:.2f}"  # NaN: a pair, not a ratio
        result = "report" if f.passed is None else ("pass" if f.passed else "FAIL")
        value = f"{f.value:,.1f} {f.unit}"
        baseline = f"{f.baseline:,.1f} {f.unit}"
        lines.append(f"| {f.name} | {value} | {baseline} | {ratio} | {f.target} | {result} |")
    lines += ["", *notes]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
