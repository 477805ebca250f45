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
    """Samples a server's whole process tree every 20 ms while a block runs: the main process and
    all its children (granian workers, multiprocessing's resource tracker). Peaks: `total`, the
    tree's RSS summed (a page two processes share, such as libpython's code, counts twice);
    `pss`, its PSS summed (a shared page divided among the processes that map it: what the
    tree costs the machine); `single`, the largest process's RSS."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.total = self.pss = self.single = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss, pss = [], 0
            for p in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    full = p.memory_full_info()  # /proc/<pid>/smaps_rollup
                    rss.append(full.rss)
                    pss += full.pss
            if rss:
                self.total, self.single = max(self.total, sum(rss)), max(self.single, max(rss))
                self.pss = max(self.pss, pss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_upload_memory(inputs: Inputs) -> PeakRss:
    """The large upload on `mediavault serve` with its default settings (one worker), after
    some read load, the whole process tree sampled (issue 11)."""
    server = ServerProcess(data=inputs.root / "data-memory", port=free_port(), workers=1)
    server.start()
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=600)
    try:
        file_id, version_id = version_of(mv_upload(client, "warm.bin", inputs.small))
        wrk(f"{server.base_url}/v1/files/{file_id}/versions/{version_id}", 2, 32, auth=True)
        os.sync()
        assert server.process is not None
        with PeakRss(server.process.pid) as memory:
            mv_upload(client, "big.bin", inputs.big)
    finally:
        client.close()
        server.stop()
    return memory


def memory_figures(memory: PeakRss) -> list[Figure]:
    return [
        Figure("server memory during that upload, default settings (1 worker): whole process "
               "tree, RSS summed; PSS summed", memory.total / 1e6, memory.pss / 1e6, "MB",
               float("nan"), "≤ 150 MB (RSS)", memory.total / 1e6 <= 150),
    ]  # fmt: skip


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
    """nginx sending the 100 MB file. Measured a second time, once, if wrk saw a connection
    stall past its 2 s timeout: in two runs of the evening of 2026-11-30, nginx's connections
    each stopped once for over 2 s, every other request at 52 ms (the host's page cache being
    reclaimed under it, likely). It is the baseline, not the figure under test; a second
    failure still stops the run."""
    with nginx(inputs.root, inputs.hundred_mb.parent, inputs.cores) as web:
        url = f"{web}/{inputs.hundred_mb.name}"
        wrk(url, 2, 2)
        try:
            return wrk(url, inputs.seconds, 2)
        except RuntimeError as failure:
            print(f"measuring nginx again: {failure}", file=sys.stderr)
            return wrk(url, inputs.seconds, 2)


# --- reads (issue 11): 10 KiB deliveries, 304s, list and details ---------------------------

SMALL = 10 * 1024  # bytes of the small delivered version


@dataclass
class Paired:
    """A mediavault figure and its baseline, measured just before and just after it (the mean
    of the two runs): the machine's other load changes between runs, the pair's ratio less."""

    mediavault: Load
    baseline: Load

    @property
    def ratio(self) -> float:
        return self.mediavault.rps / self.baseline.rps


@dataclass
class ReadLoads:
    """One mediavault server's read figures, all at 32 connections."""

    deliver: Paired  # 10 KiB, the current version at its plain URL ÷ SeaweedFS GET ?versionId
    deliver_version: Paired  # 10 KiB, an older version by its ik-obj-version URL ÷ the same
    not_modified: Paired  # the plain URL with If-None-Match of its ETag (304) ÷ hello-world
    details: Paired  # GET a version of a file with 100 versions ÷ hello-world
    listing: Paired  # GET the 100 versions ÷ SeaweedFS ListObjectVersions of 100


READ_WORKERS = (1, 2)


def measure_reads(inputs: Inputs) -> dict[int, ReadLoads]:
    """The read figures on one worker and on two. Every server runs for the whole of a worker
    count, idle while another is measured, and each figure sits between two runs of its
    baseline."""
    root = inputs.root / "reads"
    root.mkdir()
    older, current = os.urandom(SMALL), os.urandom(SMALL)
    loads = {}
    with seaweedfs(root) as s3:
        older_id = s3_put(s3, "small.bin", older)
        s3_put(s3, "small.bin", current)
        for n in range(100):
            s3_put(s3, "hundred.bin", f"version {n}".encode())
        peer_get = f"{s3}/bench/small.bin?versionId={older_id}"
        peer_list = f"{s3}/bench?versions&prefix=hundred.bin"
        for workers in READ_WORKERS:
            with (
                hello_world(root, workers) as hello,
                _mediavault_for_reads(root, workers, older, current) as mv,
            ):
                loads[workers] = _reads_against(
                    inputs.seconds, f"{hello}/", peer_get, peer_list, mv
                )
    return loads


def _reads_against(
    seconds: float, hello: str, peer_get: str, peer_list: str, mv: ReadUrls
) -> ReadLoads:
    for url, auth in ((peer_get, False), (hello, False), (mv.plain, False), (mv.details, True)):
        wrk(url, 2, 32, auth=auth)  # warm up
    deliver, deliver_version = _between(
        lambda: wrk(peer_get, seconds, 32),
        lambda: wrk(mv.plain, seconds, 32),
        lambda: wrk(mv.by_token, seconds, 32),
    )
    not_modified, details = _between(
        lambda: wrk(hello, seconds, 32),
        lambda: wrk(mv.plain, seconds, 32, headers=(f"If-None-Match: {mv.etag}",)),
        lambda: wrk(mv.details, seconds, 32, auth=True),
    )
    (listing,) = _between(
        lambda: wrk(peer_list, seconds, 32),
        lambda: wrk(mv.listing, seconds, 32, auth=True),
    )
    return ReadLoads(deliver, deliver_version, not_modified, details, listing)


def _between(baseline: Callable[[], Load], *measures: Callable[[], Load]) -> list[Paired]:
    runs = [baseline()]
    paired = []
    for measure in measures:
        load = measure()
        runs.append(baseline())
        before, after = runs[-2], runs[-1]
        mean = Load(
            (before.rps + after.rps) / 2,
            (before.p50_ms + after.p50_ms) / 2,
            (before.bytes_per_s + after.bytes_per_s) / 2,
        )
        paired.append(Paired(load, mean))
    return paired


@dataclass
class ReadUrls:
    plain: str  # the current 10 KiB version
    by_token: str  # the older 10 KiB version, by its ik-obj-version URL as the API gives it
    etag: str  # the current version's
    details: str  # a version in the middle of a file with 100 versions
    listing: str  # that file's versions


@contextmanager
def _mediavault_for_reads(
    root: Path, workers: int, older: bytes, current: bytes
) -> Iterator[ReadUrls]:
    server = ServerProcess(data=root / f"data-{workers}", port=free_port(), workers=workers)
    server.start()
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60)
    try:
        mv_upload(client, "small.bin", older)
        file_id = str(mv_upload(client, "small.bin", current)["fileId"])
        small_versions = client.get(f"/v1/files/{file_id}/versions").json()
        plain = str(small_versions[0]["url"]).split("?")[0]
        by_token = str(small_versions[1]["url"])
        assert "ik-obj-version=" in by_token and httpx.get(by_token).content == older
        assert httpx.get(plain).content == current
        etag = httpx.get(plain).headers["etag"]
        for n in range(100):
            hundred = mv_upload(client, "hundred.bin", f"version {n}".encode())
        hundred_id = str(hundred["fileId"])
        versions = client.get(f"/v1/files/{hundred_id}/versions").json()
        version_id = versions[50]["versionInfo"]["id"]
        yield ReadUrls(
            plain,
            by_token,
            etag,
            f"{server.base_url}/v1/files/{hundred_id}/versions/{version_id}",
            f"{server.base_url}/v1/files/{hundred_id}/versions",
        )
    finally:
        client.close()
        server.stop()


def read_figures(reads: dict[int, ReadLoads]) -> list[Figure]:
    figures = []
    for workers, mv in reads.items():
        on = f"{workers} worker{'s' if workers > 1 else ''}"
        for name, pair in (
            ("current, plain URL", mv.deliver),
            ("by ik-obj-version", mv.deliver_version),
        ):
            load = pair.mediavault
            figures += [
                Figure(f"deliver 10 KiB, {name}, {on}: req/s ÷ SeaweedFS GET ?versionId (10 KiB)",
                       load.rps, pair.baseline.rps, "req/s", pair.ratio, "≥ 1.5",
                       pair.ratio >= 1.5),
                Figure(f"deliver 10 KiB, {name}, {on}: p50 at 32 connections", load.p50_ms, 5,
                       "ms", load.p50_ms / 5, "< 5 ms", load.p50_ms < 5),
            ]  # fmt: skip
        pair = mv.not_modified
        figures.append(
            Figure(f"304 (If-None-Match), {on}: req/s ÷ ASGI hello-world ({on})",
                   pair.mediavault.rps, pair.baseline.rps, "req/s", pair.ratio, "≥ 0.5",
                   pair.ratio >= 0.5)
        )  # fmt: skip
        # The targets for list and details are on one worker; two are reported.
        one = workers == 1
        details, listing = mv.details, mv.listing
        figures += [
            Figure(f"GET version details, {on}: req/s ÷ ASGI hello-world ({on})",
                   details.mediavault.rps, details.baseline.rps, "req/s", details.ratio,
                   "≥ 0.5" if one else "report", details.ratio >= 0.5 if one else None),
            Figure(f"list versions (100), {on}: req/s ÷ SeaweedFS ListObjectVersions (100)",
                   listing.mediavault.rps, listing.baseline.rps, "req/s", listing.ratio,
                   "≥ 1.5" if one else "report", listing.ratio >= 1.5 if one else None),
            Figure(f"list versions (100), {on}: p50 at 32 connections",
                   listing.mediavault.p50_ms, 10, "ms", listing.mediavault.p50_ms / 10,
                   "< 10 ms" if one else "report", listing.mediavault.p50_ms < 10 if one else None),
        ]  # fmt: skip
    return figures


def read_notes(reads: dict[int, ReadLoads]) -> list[str]:
    notes = []
    for workers, mv in reads.items():
        notes.append(
            f"Reads, {workers} worker(s), baselines (mean of the runs before and after each "
            f"figure): SeaweedFS GET ?versionId (10 KiB) {mv.deliver.baseline.rps:.0f} req/s "
            f"(p50 {mv.deliver.baseline.p50_ms:.1f} ms), ASGI hello-world "
            f"{mv.not_modified.baseline.rps:.0f} req/s, SeaweedFS ListObjectVersions (100) "
            f"{mv.listing.baseline.rps:.0f} req/s."
        )
    return notes


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
        Figure(f"server peak RSS during that upload, {inputs.cores} workers (largest process; "
               "whole process tree)", mv.rss.single / 1e6, mv.rss.total / 1e6, "MB", nan,
               "report", None),
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


# --- small writes (issue 11): create-version latency and 16 writers, against SeaweedFS PUT --


def measure_write_figures(inputs: Inputs) -> tuple[list[Figure], str]:
    """bench/writes.py: 10 KiB versions, sequential and from 16 clients, on a mediavault server
    (one worker, then one per core) and a SeaweedFS of their own; the figures and a note of the
    other percentiles."""
    from writes import measure_writes, notes, rows  # bench/writes.py, beside this file

    figures, texts = [], []
    # Issue 11's targets are for one worker; one per core is reported beside them.
    for workers in sorted({1, inputs.cores}):
        run = measure_writes(inputs.root, workers, seaweedfs, seconds=inputs.seconds)
        figures += [Figure(*row) for row in rows(run)]
        texts.append(notes(run))
    return figures, "\n".join(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large upload")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    parser.add_argument(
        "--search",
        type=Path,
        metavar="DIR",
        help="then bench/search_100k.py, its 100k-file library kept in DIR (built on first use)",
    )
    parser.add_argument(
        "--scale",
        type=Path,
        metavar="DIR",
        help="then bench/scale.py, its 1k and 1M libraries kept in DIR (built on first use)",
    )
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
        memory = measure_upload_memory(inputs)
        write_figures, write_note = measure_write_figures(inputs)
    figures = figures_of(inputs, dd_s, ceiling, mv, peer, web) + read_figures(reads)
    figures += memory_figures(memory)
    figures += write_figures
    notes = [
        f"ASGI hello-world: {ceiling.rps:.0f} req/s; SeaweedFS GET ?versionId "
        f"{peer.version_get.rps:.0f} req/s, ListObjectVersions {peer.list_versions.rps:.0f} req/s",
        *read_notes(reads),
        write_note,
    ]
    report = render(figures, inputs.cores, args, notes)
    passed = all(f.passed is not False for f in figures)
    # The two long figures, each with its own baseline in its own run, after the suite's.
    here = Path(__file__).resolve().parent
    for option, script, flag in ((args.search, "search_100k.py", "--data"),
                                 (args.scale, "scale.py", "--keep")):  # fmt: skip
        if option is not None:
            run = subprocess.run(
                [sys.executable, str(here / script), flag, str(option)],
                capture_output=True,
                text=True,
                check=False,
            )
            report += f"\n\n`bench/{script} {flag} {option}`:\n\n{run.stdout.strip()}\n"
            passed = passed and run.returncode == 0
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0 if passed else 1


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
