"""Scale benchmark: the hot reads with 1k files in the library and with 1M.

    .venv/bin/python bench/scale.py [--small 1000] [--large 1000000] [--seconds 5] [--rounds 3]

Each library is built quickly by bulk inserts through the storage layer's tables (setup only;
bench/search_100k.py's builder), then a real `mediavault serve` on each (one granian worker per
core, SQLite and local disk) answers wrk through HTTP. Four reads are measured, each on one
connection (p50) and on 32 (req/s):

- get-version: GET one version's details (a file of the bulk rows);
- list-versions: GET the versions of a file with 10 versions (uploaded through the API);
- delivery: GET a 10 KiB file's current bytes by its URL (uploaded through the API);
- search: GET /v1/files?searchQuery=name = "..." (one match, the file with 10 versions).

Both servers run at once and take turns, run by run, so that the machine's other load (it is
shared) falls on both alike; each figure is the median of its runs. Each ratio is the 1M
library's time over the 1k library's (p50 latency; for req/s the inverse, 1k req/s ÷ 1M
req/s), target ≤ 1.5 for every one."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_100k import build_library
from suite import wrk
from tests.support import TEST_KEY, ServerProcess, free_port

TARGET = 1.5


@dataclass
class Read:
    name: str
    url: str
    auth: bool
    server: ServerProcess


def upload(client: httpx.Client, name: str, content: bytes) -> dict[str, object]:
    response = client.post(
        "/api/v1/files/upload",
        files={"file": (name, content)},
        data={"fileName": name, "useUniqueFileName": "false", "folder": "/scale"},
    )
    response.raise_for_status()
    return response.json()


def reads_of(server: ServerProcess, bulk_file_id: str) -> list[Read]:
    """Adds a file with 10 versions and a small file (names of this run's own, so that a kept
    library can be measured again); the URL of each read."""
    base = server.base_url
    ten_name = f"ten-{secrets.token_hex(4)}.txt"
    search = f'name = "{ten_name}"'
    with httpx.Client(base_url=base, auth=(TEST_KEY, ""), timeout=60) as client:
        for n in range(10):
            ten = upload(client, ten_name, f"version {n}".encode())
        small = upload(client, f"small-{secrets.token_hex(4)}.bin", os.urandom(10 * 1024))
        ten_id = str(ten["fileId"])
        assert len(client.get(f"/v1/files/{ten_id}/versions").json()) == 10
        found = client.get("/v1/files", params={"searchQuery": search}).json()
        assert [item["fileId"] for item in found] == [ten_id], found
        delivered = str(small["url"])
        assert len(httpx.get(delivered).content) == 10 * 1024
    return [
        # The builder gives every file's first version the file's own id.
        Read("get-version", f"{base}/v1/files/{bulk_file_id}/versions/{bulk_file_id}", True,
             server),
        Read("list-versions (10)", f"{base}/v1/files/{ten_id}/versions", True, server),
        Read("delivery (10 KiB, current version)", delivered, False, server),
        Read('search `name = "..."` (one match)',
             f"{base}/v1/files?searchQuery={quote(search)}", True, server),
    ]  # fmt: skip


@contextmanager
def library(files: int, keep: Path | None) -> Iterator[list[Read]]:
    """A library of `files` files served by `mediavault serve`; the URLs of its reads. With
    `keep`, the library is kept in keep/<files> and reused when it is there."""
    with tempfile.TemporaryDirectory(prefix="mv-scale-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = keep / str(files) if keep else Path(tmp)
        data, marker = root / "data", root / "bulk_file_id"
        if keep and marker.exists():
            file_id = marker.read_text()
            print(f"reusing the {files:,}-file library in {root}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
            started = time.perf_counter()
            file_id = build_library(data, files, {})
            marker.write_text(file_id)
            print(
                f"built {files:,} files in {time.perf_counter() - started:.0f} s", file=sys.stderr
            )
        server = ServerProcess(data=data, port=free_port(), workers=os.cpu_count() or 1).start()
        try:
            yield reads_of(server, file_id)
        finally:
            server.stop()


def server_cpu_seconds(server: ServerProcess) -> float:
    """User and system CPU time of the server's whole process tree so far."""
    assert server.process is not None
    main = psutil.Process(server.process.pid)
    total = 0.0
    for process in [main, *main.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


@dataclass
class Medians:
    p50_ms: float  # one connection
    rps: float  # 32 connections
    cpu_us: float  # the server's CPU time per request, 32 connections


def measure(small: Read, large: Read, seconds: float, rounds: int) -> tuple[Medians, Medians]:
    """Each figure is the median of `rounds` runs, the two libraries taking turns (each going
    first every other round), so that a change in the machine's other load falls on both."""
    for read in (small, large):
        wrk(read.url, 2, 8, auth=read.auth)
    p50: dict[str, list[float]] = {small.url: [], large.url: []}
    rps: dict[str, list[float]] = {small.url: [], large.url: []}
    cpu: dict[str, list[float]] = {small.url: [], large.url: []}
    for connections in (1, 32):
        for n in range(rounds):
            for read in [small, large] if n % 2 == 0 else [large, small]:
                before = server_cpu_seconds(read.server)
                load = wrk(read.url, seconds, connections, auth=read.auth)
                used = server_cpu_seconds(read.server) - before
                if connections == 1:
                    p50[read.url].append(load.p50_ms)
                    continue
                rps[read.url].append(load.rps)
                cpu[read.url].append(used / (load.rps * max(1, round(seconds))) * 1e6)
    for read in (small, large):
        print(f"{read.name} at {read.url.split('/')[2]}: p50 ms {p50[read.url]}, req/s "
              f"{[round(r) for r in rps[read.url]]}, CPU µs/request "
              f"{[round(c) for c in cpu[read.url]]}", file=sys.stderr)  # fmt: skip
    return tuple(  # type: ignore[return-value]
        Medians(statistics.median(p50[r.url]), statistics.median(rps[r.url]),
                statistics.median(cpu[r.url]))
        for r in (small, large)
    )  # fmt: skip


def row(figure: str, small: str, large: str, ratio: float, target: bool = True) -> str:
    goal, result = (
        (f"≤ {TARGET}", "pass" if ratio <= TARGET else "FAIL") if target else ("", "report")
    )
    return f"| {figure} | {small} | {large} | {ratio:.2f} | {goal} | {result} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure and library")
    parser.add_argument("--keep", type=Path, help="keep the libraries here; reuse them if there")
    args = parser.parse_args()
    # The figures are for the embedded default, whatever backends the test variables name.
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    keep = args.keep.resolve() if args.keep else None
    lines = [
        f"| figure | {args.small:,} files | {args.large:,} files | ratio (time) | target | "
        "result |",
        "|---|---:|---:|---:|---|---|",
    ]
    ratios = []
    with library(args.small, keep) as small_reads, library(args.large, keep) as large_reads:
        for small, large in zip(small_reads, large_reads, strict=True):
            at_small, at_large = measure(small, large, args.seconds, args.rounds)
            latency = at_large.p50_ms / at_small.p50_ms
            throughput = at_small.rps / at_large.rps
            ratios += [latency, throughput]
            lines += [
                row(f"{small.name} p50, one connection", f"{at_small.p50_ms:.2f} ms",
                    f"{at_large.p50_ms:.2f} ms", latency),
                row(f"{small.name} req/s, 32 connections", f"{at_small.rps:,.0f}",
                    f"{at_large.rps:,.0f}", throughput),
                row(f"{small.name} server CPU per request, 32 connections",
                    f"{at_small.cpu_us:,.0f} µs", f"{at_large.cpu_us:,.0f} µs",
                    at_large.cpu_us / at_small.cpu_us, target=False),
            ]  # fmt: skip
            print(*lines[-3:], sep="\n", file=sys.stderr)
    print("\n".join(lines))
    return 0 if all(r <= TARGET for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
