"""Scale benchmark: the hot reads with 1k files in the library, then with 1M.

    .venv/bin/python bench/scale.py [--small 1000] [--large 1000000] [--seconds 10]

Each library is built quickly by bulk inserts through the storage layer's tables (setup only;
bench/search_100k.py's builder), then a real `mediavault serve` (one granian worker per core,
SQLite and local disk) answers wrk through HTTP. Four reads are measured, each on one connection
(p50) and on 32 (req/s):

- get-version: GET one version's details (a file of the bulk rows);
- list-versions: GET the versions of a file with 10 versions (uploaded through the API);
- delivery: GET a 10 KiB file's current bytes by its URL (uploaded through the API);
- search: GET /v1/files?searchQuery=name = "..." (one match, the file with 10 versions).

Each figure's ratio is the 1M library's time over the 1k library's (p50 latency; for req/s the
inverse of throughput, 1k req/s ÷ 1M req/s), target ≤ 1.5 for every one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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


def measure(files: int, seconds: float) -> dict[str, tuple[Load, Load]]:
    """For each read: (one connection, 32 connections)."""
    with tempfile.TemporaryDirectory(prefix="mv-scale-", dir=os.environ.get("BENCH_DIR")) as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        file_id = build_library(data, files, {})
        print(f"built {files:,} files in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        server = ServerProcess(data=data, port=free_port(), workers=os.cpu_count() or 1).start()
        try:
            results = {}
            for read in reads_of(server, file_id):
                wrk(read.url, 2, 8, auth=read.auth)
                one = wrk(read.url, seconds, 1, auth=read.auth)
                many = wrk(read.url, seconds, 32, auth=read.auth)
                results[read.name] = (one, many)
                print(f"{files:,} files, {read.name}: p50 {one.p50_ms:.2f} ms, "
                      f"{many.rps:,.0f} req/s", file=sys.stderr)  # fmt: skip
        finally:
            server.stop()
    return results


def row(figure: str, small: str, large: str, ratio: float) -> str:
    result = "pass" if ratio <= TARGET else "FAIL"
    return f"| {figure} | {small} | {large} | {ratio:.2f} | ≤ {TARGET} | {result} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    # The figures are for the embedded default, whatever backends the test variables name.
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    small = measure(args.small, args.seconds)
    large = measure(args.large, args.seconds)
    lines = [
        f"| figure | {args.small:,} files | {args.large:,} files | ratio (time) | target | "
        "result |",
        "|---|---:|---:|---:|---|---|",
    ]
    ratios = []
    for name, (small_one, small_many) in small.items():
        large_one, large_many = large[name]
        latency = large_one.p50_ms / small_one.p50_ms
        throughput = small_many.rps / large_many.rps
        ratios += [latency, throughput]
        lines.append(row(f"{name} p50, one connection", f"{small_one.p50_ms:.2f} ms",
                         f"{large_one.p50_ms:.2f} ms", latency))  # fmt: skip
        lines.append(row(f"{name} req/s, 32 connections", f"{small_many.rps:,.0f}",
                         f"{large_many.rps:,.0f}", throughput))  # fmt: skip
    print("\n".join(lines))
    return 0 if all(r <= TARGET for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
