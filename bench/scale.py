"""Scale benchmark: GET one version's details with 1k files in the library, then with 1M.

    .venv/bin/python bench/scale.py [--large 1000000] [--seconds 10]

Each library is built quickly by bulk inserts through the storage layer's tables (setup only;
bench/search_100k.py's builder), then a real `mediavault serve` answers wrk through HTTP. The
figure is the ratio of the p50 latencies on one connection (target ≤ 1.5), with the
throughput on 32 connections beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_100k import build_library
from suite import wrk
from tests.support import ServerProcess, free_port


def measure(files: int, seconds: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="mv-scale-", dir=os.environ.get("BENCH_DIR")) as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        file_id = build_library(data, files)
        print(f"built {files:,} files in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        server = ServerProcess(data=data, port=free_port(), workers=os.cpu_count() or 1).start()
        try:
            # The builder gives every file's first version the file's own id.
            url = f"{server.base_url}/v1/files/{file_id}/versions/{file_id}"
            wrk(url, 2, 8, auth=True)
            latency = wrk(url, seconds, 1, auth=True)
            throughput = wrk(url, seconds, 32, auth=True)
        finally:
            server.stop()
    return latency.p50_ms, throughput.rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    # The figures are for the embedded default, whatever backends the test variables name.
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    small_p50, small_rps = measure(args.small, args.seconds)
    large_p50, large_rps = measure(args.large, args.seconds)
    ratio = large_p50 / small_p50
    print("| figure | 1k files | 1M files | ratio | target | result |")
    print("|---|---:|---:|---:|---|---|")
    print(f"| get-version p50, one connection | {small_p50:.2f} ms | {large_p50:.2f} ms | "
          f"{ratio:.2f} | ≤ 1.5 | {'pass' if ratio <= 1.5 else 'FAIL'} |")  # fmt: skip
    print(f"| get-version req/s, 32 connections | {small_rps:,.0f} | {large_rps:,.0f} | "
          f"{large_rps / small_rps:.2f} | report | report |")  # fmt: skip


if __name__ == "__main__":
    main()
