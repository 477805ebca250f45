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
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_100k import build_library
from suite import Load, wrk
from tests.support import TEST_KEY, ServerProcess, free_port

TARGET = 1.5
SEARCH = 'name = "ten.txt"'


@dataclass
class Read:
    name: str
    url: str
    auth: bool


def upload(client: httpx.Client, name: str, content: bytes) -> dict[str, object]:
    response = client.post(
        "/api/v1/files/upload",
        files={"file": (name, content)},
        data={"fileName": name, "useUniqueFileName": "false", "folder": "/scale"},
    )
    response.raise_for_status()
    return response.json()


def reads_of(server: ServerProcess, bulk_file_id: str) -> list[Read]:
    """Adds the file with 10 versions and the small file; the URL of each read."""
    base = server.base_url
    with httpx.Client(base_url=base, auth=(TEST_KEY, ""), timeout=60) as client:
        for n in range(10):
            ten = upload(client, "ten.txt", f"version {n}".encode())
        small = upload(client, "small.bin", os.urandom(10 * 1024))
        ten_id = str(ten["fileId"])
        assert len(client.get(f"/v1/files/{ten_id}/versions").json()) == 10
        found = client.get("/v1/files", params={"searchQuery": SEARCH}).json()
        assert [item["fileId"] for item in found] == [ten_id], found
        delivered = str(small["url"])
        assert len(httpx.get(delivered).content) == 10 * 1024
    return [
        # The builder gives every file's first version the file's own id.
        Read("get-version", f"{base}/v1/files/{bulk_file_id}/versions/{bulk_file_id}", True),
        Read("list-versions (10)", f"{base}/v1/files/{ten_id}/versions", True),
        Read("delivery (10 KiB, current version)", delivered, False),
        Read(f"search `{SEARCH}`", f"{base}/v1/files?searchQuery={quote(SEARCH)}", True),
    ]


@contextmanager
def library(files: int) -> Iterator[list[Read]]:
    """A library of `files` files served by `mediavault serve`; the URLs of its reads."""
    with tempfile.TemporaryDirectory(prefix="mv-scale-", dir=os.environ.get("BENCH_DIR")) as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        file_id = build_library(data, files, {})
        print(f"built {files:,} files in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        server = ServerProcess(data=data, port=free_port(), workers=os.cpu_count() or 1).start()
        try:
            yield reads_of(server, file_id)
        finally:
            server.stop()


@dataclass
class Medians:
    p50_ms: float  # one connection
    rps: float  # 32 connections


def measure(small: Read, large: Read, seconds: float, rounds: int) -> tuple[Medians, Medians]:
    """Each figure is the median of `rounds` runs, the two libraries taking turns (each going
    first every other round), so that a change in the machine's other load falls on both."""
    for read in (small, large):
        wrk(read.url, 2, 8, auth=read.auth)
    runs: dict[tuple[str, int], list[Load]] = {}
    for connections in (1, 32):
        for n in range(rounds):
            order = [small, large] if n % 2 == 0 else [large, small]
            for read in order:
                load = wrk(read.url, seconds, connections, auth=read.auth)
                runs.setdefault((read.url, connections), []).append(load)
    return tuple(  # type: ignore[return-value]
        Medians(
            p50_ms=statistics.median(load.p50_ms for load in runs[read.url, 1]),
            rps=statistics.median(load.rps for load in runs[read.url, 32]),
        )
        for read in (small, large)
    )


def row(figure: str, small: str, large: str, ratio: float) -> str:
    result = "pass" if ratio <= TARGET else "FAIL"
    return f"| {figure} | {small} | {large} | {ratio:.2f} | ≤ {TARGET} | {result} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure and library")
    args = parser.parse_args()
    # The figures are for the embedded default, whatever backends the test variables name.
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    lines = [
        f"| figure | {args.small:,} files | {args.large:,} files | ratio (time) | target | "
        "result |",
        "|---|---:|---:|---:|---|---|",
    ]
    ratios = []
    with library(args.small) as small_reads, library(args.large) as large_reads:
        for small, large in zip(small_reads, large_reads, strict=True):
            at_small, at_large = measure(small, large, args.seconds, args.rounds)
            latency = at_large.p50_ms / at_small.p50_ms
            throughput = at_small.rps / at_large.rps
            ratios += [latency, throughput]
            lines.append(row(f"{small.name} p50, one connection", f"{at_small.p50_ms:.2f} ms",
                             f"{at_large.p50_ms:.2f} ms", latency))  # fmt: skip
            lines.append(row(f"{small.name} req/s, 32 connections", f"{at_small.rps:,.0f}",
                             f"{at_large.rps:,.0f}", throughput))  # fmt: skip
            print(lines[-2], lines[-1], sep="\n", file=sys.stderr)
    print("\n".join(lines))
    return 0 if all(r <= TARGET for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
