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
from dataclasses import dataclass
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


def wrk(url: str, seconds: float, connections: int, *, auth: bool = False) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
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
    ratio: float
    target: str
    passed: bool | None  # None: reported, no target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large upload")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "curl", "dd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run bench/run, which installs it")
    cores = os.cpu_count() or 1
    figures: list[Figure] = []
    notes: list[str] = []
    seconds = args.seconds
    big_size = args.big_mib * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="mv-suite-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        big = random_file(root / "big.bin", big_size)
        (root / "www").mkdir()
        hundred_mb = random_file(root / "www" / "h100.bin", 100 * 1024 * 1024)
        small = os.urandom(1024)

        # The disk's own figure first, from a clean page cache; each large write below starts
        # after a sync too, so none of them pays for another's writeback.
        os.sync()
        dd_out = root / "dd.bin"
        dd_s = timed(lambda: subprocess.run(
            ["dd", "if=/dev/zero", f"of={dd_out}", "bs=1M", f"count={args.big_mib}",
             "conv=fdatasync"],
            capture_output=True, check=True,
        ))  # fmt: skip
        dd_out.unlink()

        os.sync()

        with hello_world(root, cores) as hello:
            wrk(f"{hello}/", 2, 32)  # warm up
            ceiling = wrk(f"{hello}/", seconds, 32)

        server = ServerProcess(data=root / "data", port=free_port(), workers=cores).start()
        client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=600)
        try:
            # A file with 100 versions; details of a version in the middle.
            for n in range(100):
                hundred = mv_upload(client, "hundred.bin", f"version {n}".encode())
            hundred_id = str(hundred["fileId"])
            versions = client.get(f"/v1/files/{hundred_id}/versions").json()
            middle = versions[50]["versionInfo"]["id"]
            details_url = f"{server.base_url}/v1/files/{hundred_id}/versions/{middle}"
            list_url = f"{server.base_url}/v1/files/{hundred_id}/versions"
            wrk(details_url, 2, 32, auth=True)
            details = wrk(details_url, seconds, 32, auth=True)
            listing = wrk(list_url, seconds, 32, auth=True)
            listing_p50 = wrk(list_url, seconds, 1, auth=True)

            # Blob bytes added by an identical re-upload and by a restore.
            same = os.urandom(64 * 1024)
            same_id, same_v1 = version_of(mv_upload(client, "same.bin", same))
            before = blob_bytes(server.data)
            mv_upload(client, "same.bin", same)
            after_reupload = blob_bytes(server.data)
            client.put(f"/v1/files/{same_id}/versions/{same_v1}/restore").raise_for_status()
            after_restore = blob_bytes(server.data)

            # Large upload, then a small version over it, then restores of each size.
            os.sync()
            with PeakRss(server.process.pid) as rss:  # type: ignore[union-attr]
                started = time.perf_counter()
                big_v1 = mv_upload(client, "big.bin", big)
                upload_s = time.perf_counter() - started
            mv_upload(client, "big.bin", small)
            tiny_v1 = mv_upload(client, "tiny.bin", small)
            mv_upload(client, "tiny.bin", os.urandom(1024))
            big_id, big_version = version_of(big_v1)
            tiny_id, tiny_version = version_of(tiny_v1)

            def restore(file_id: str, version_id: str) -> float:
                return timed(
                    lambda: client.put(
                        f"/v1/files/{file_id}/versions/{version_id}/restore"
                    ).raise_for_status()
                )

            restore_big = statistics.median(restore(big_id, big_version) for _ in range(5))
            restore_tiny = statistics.median(restore(tiny_id, tiny_version) for _ in range(5))

            # Delivery of a 100 MB version.
            delivered = mv_upload(client, "h100.bin", hundred_mb)
            wrk(str(delivered["url"]), 2, 2)
            delivery = wrk(str(delivered["url"]), seconds, 2)
        finally:
            client.close()
            server.stop()

        with seaweedfs(root) as s3:
            ids = [s3_put(s3, "hundred.bin", f"version {n}".encode()) for n in range(100)]
            head_url = f"{s3}/bench/hundred.bin?versionId={ids[50]}"
            s3_list_url = f"{s3}/bench?versions&prefix=hundred.bin"
            # wrk cannot time HEAD (it waits for the body its Content-Length announces), so the
            # peer's figure is GetObject ?versionId of the same 9-byte version: HEAD plus 9 bytes.
            wrk(head_url, 2, 32)
            s3_head = wrk(head_url, seconds, 32)
            s3_list = wrk(s3_list_url, seconds, 32)
            os.sync()
            started = time.perf_counter()
            s3_big_version = s3_put(s3, "big.bin", big)
            s3_upload_s = time.perf_counter() - started
            s3_put(s3, "big.bin", small)
            s3_tiny_version = s3_put(s3, "tiny.bin", small)
            s3_put(s3, "tiny.bin", os.urandom(1024))
            s3_restore_big = statistics.median(
                timed(lambda: s3_restore(s3, "big.bin", s3_big_version)) for _ in range(3)
            )
            s3_restore_tiny = statistics.median(
                timed(lambda: s3_restore(s3, "tiny.bin", s3_tiny_version)) for _ in range(3)
            )

        with nginx(root, root / "www", cores) as web:
            wrk(f"{web}/h100.bin", 2, 2)
            nginx_delivery = wrk(f"{web}/h100.bin", seconds, 2)

    mib = 1024 * 1024
    upload_mibs, dd_mibs, s3_upload_mibs = (
        big_size / upload_s / mib,
        big_size / dd_s / mib,
        big_size / s3_upload_s / mib,
    )

    def add(
        name: str,
        value: float,
        baseline: float,
        unit: str,
        target: str,
        passed: bool | None,
        ratio: float | None = None,
    ) -> None:
        figures.append(
            Figure(
                name,
                value,
                baseline,
                unit,
                ratio if ratio is not None else value / baseline,
                target,
                passed,
            )
        )

    add(
        "GET version details req/s ÷ ASGI hello-world req/s",
        details.rps,
        ceiling.rps,
        "req/s",
        "≥ 0.40",
        details.rps / ceiling.rps >= 0.40,
    )
    add(
        "GET version details req/s ÷ SeaweedFS GET ?versionId (9 bytes) req/s",
        details.rps,
        s3_head.rps,
        "req/s",
        "≥ 1.0",
        details.rps >= s3_head.rps,
    )
    add(
        "list versions (100) req/s ÷ SeaweedFS ListObjectVersions (100)",
        listing.rps,
        s3_list.rps,
        "req/s",
        "≥ 1.0",
        listing.rps >= s3_list.rps,
    )
    add(
        f"restore of a {args.big_mib} MiB version ÷ restore of a 1 KiB version (time)",
        restore_big * 1000,
        restore_tiny * 1000,
        "ms",
        "≤ 1.5",
        restore_big / restore_tiny <= 1.5,
    )
    add(
        f"SeaweedFS: restore (CopyObject) {args.big_mib} MiB ÷ 1 KiB (time)",
        s3_restore_big * 1000,
        s3_restore_tiny * 1000,
        "ms",
        "report",
        None,
    )
    add(
        f"upload {args.big_mib} MiB throughput ÷ dd write (fdatasync)",
        upload_mibs,
        dd_mibs,
        "MiB/s",
        "≥ 0.6",
        upload_mibs / dd_mibs >= 0.6,
    )
    add(
        "server peak RSS during that upload (largest process; whole server)",
        rss.single / 1e6,
        rss.total / 1e6,
        "MB",
        "≤ 150 MB",
        rss.single / 1e6 <= 150,
        ratio=float("nan"),
    )
    add(
        f"upload {args.big_mib} MiB throughput ÷ SeaweedFS PUT of the same file",
        upload_mibs,
        s3_upload_mibs,
        "MiB/s",
        "≥ 1.0",
        upload_mibs >= s3_upload_mibs,
    )
    add(
        "delivery of a 100 MB version ÷ nginx, same file (throughput)",
        delivery.bytes_per_s / mib,
        nginx_delivery.bytes_per_s / mib,
        "MiB/s",
        "≥ 0.5",
        delivery.bytes_per_s / nginx_delivery.bytes_per_s >= 0.5,
    )
    add(
        "list-versions p50 at 100 versions (one connection)",
        listing_p50.p50_ms,
        10,
        "ms",
        "< 10 ms",
        listing_p50.p50_ms < 10,
    )
    add(
        "blob bytes added: identical re-upload / restore",
        after_reupload - before,
        after_restore - after_reupload,
        "bytes",
        "0 / 0",
        after_reupload == before and after_restore == after_reupload,
        ratio=float("nan"),
    )
    notes.append(
        f"ASGI hello-world: {ceiling.rps:.0f} req/s; SeaweedFS GET ?versionId "
        f"{s3_head.rps:.0f} req/s, ListObjectVersions {s3_list.rps:.0f} req/s"
    )

    report = render(figures, cores, args, notes)
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
