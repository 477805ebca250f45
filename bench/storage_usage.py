"""Storage accounting at scale: GET /v1/storage with 1k files and with a large library.

    .venv/bin/python bench/storage_usage.py [--small 1000] [--large 1000000] [--requests 200]

Each library is built by bench/search_100k.py's bulk inserts (100 folders, one file in ten with
a second version), which bypass the write path, so its counters are then recounted once, as
`mediavault fsck --repair` would (the recount's time is printed too: it is what fsck costs).
A real `mediavault serve` (one worker, SQLite and local disk) then answers sequential requests;
the p50 and p95 of three reads are printed per library:

- `/`: the whole library (sum over the 100 folder rows, and the kept blob counter);
- `/f7/`: one folder of a hundredth of the files (its counters, and the exact physical bytes:
  a scan of that folder's files and versions);
- `/none/`: a folder that does not exist (the index lookup alone).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_100k import build_library
from tests.support import TEST_KEY, ServerProcess, free_port

from mediavault.config import Settings
from mediavault.wiring import build_stores

PATHS = ["/", "/f7/", "/none/"]


def recount(data: Path) -> float:
    stores = build_stores(Settings.from_env({}, data=data))
    try:
        started = time.perf_counter()
        with stores.meta.write() as tx:
            tx.rewrite_usage(tx.recount_usage())
        return time.perf_counter() - started
    finally:
        stores.close()


def start(data: Path, attempts: int = 3) -> ServerProcess:
    """The server; a loaded machine may need more than one start's 30 seconds."""
    for attempt in range(attempts):
        try:
            return ServerProcess(data=data, port=free_port()).start()
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def measure(files: int, requests: int) -> dict[str, tuple[float, float, dict[str, int]]]:
    with tempfile.TemporaryDirectory(prefix="mv-usage-") as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        build_library(data, files, {})
        built = time.perf_counter() - started
        took = recount(data)
        print(f"{files:,} files: built in {built:.0f} s, counters recounted in {took:.2f} s")
        server = start(data)
        results = {}
        try:
            with httpx.Client(base_url=server.base_url, auth=(TEST_KEY, "")) as client:
                for path in PATHS:
                    client.get("/v1/storage", params={"path": path})  # warm
                    times = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        answer = client.get("/v1/storage", params={"path": path})
                        times.append((time.perf_counter() - started) * 1000)
                        assert answer.status_code == 200, answer.text
                    times.sort()
                    p95 = times[int(len(times) * 0.95) - 1]
                    results[path] = (statistics.median(times), p95, answer.json())
        finally:
            server.stop()
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    small = measure(args.small, args.requests)
    large = measure(args.large, args.requests)
    print(f"\n| path | {args.small:,} files p50 / p95 ms | {args.large:,} files p50 / p95 ms |")
    print("|---|---:|---:|")
    for path in PATHS:
        (s50, s95, _), (l50, l95, _) = small[path], large[path]
        print(f"| `{path}` | {s50:.2f} / {s95:.2f} | {l50:.2f} / {l95:.2f} |")
    print(f"\nthe large library's `/`: {large['/'][2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
