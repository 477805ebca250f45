"""The web console's library page on a library of 100k files: server time per page of 100.

    .venv/bin/python bench/ui.py [--files 100000] [--requests 50]

Builds the library by bench/search_100k.py's bulk inserts (100 folders of 1,000 files, one
file in ten with a second version), starts a real `mediavault serve` on it (SQLite and local
disk, or PostgreSQL + S3 with the test suite's MEDIAVAULT_TEST_* variables), signs in to the
console and times sequential GETs of pages of 100 items: the first page of a folder, its last
page (skip=900), the root (100 folders) and a search. Each figure is the median of the
requests' times over loopback, from request sent to last byte read: an upper bound on the
server's time for the page.
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
from tests.backends import backend_env
from tests.support import TEST_KEY, ServerProcess, free_port

PAGES = {
    "folder, first 100 (newest first)": {"path": "/f7/"},
    "folder by name, first 100": {"path": "/f7/", "sort": "ASC_NAME"},
    "folder, items 901-1000": {"path": "/f7/", "skip": "900"},
    "folder by size, first 100": {"path": "/f7/", "sort": "DESC_SIZE"},
    "root (100 folders)": {},
    'search name : "file12"': {"q": 'name : "file12"'},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-ui-") as tmp:
        data = Path(tmp) / "data"
        env = backend_env()
        started = time.perf_counter()
        build_library(data, args.files, env)
        print(f"{args.files:,} files built in {time.perf_counter() - started:.0f} s")
        server = ServerProcess(data=data, port=free_port())
        server.backend = env
        server.start()
        try:
            with httpx.Client(base_url=server.base_url) as client:
                signed_in = client.post("/ui/sign-in", data={"key": TEST_KEY})
                assert signed_in.status_code == 303, signed_in.text
                print(f"\n| library page ({args.requests} requests) | items | median ms |")
                print("|---|---:|---:|")
                for label, params in PAGES.items():
                    client.get("/ui/", params=params)  # warm
                    times = []
                    for _ in range(args.requests):
                        began = time.perf_counter()
                        answer = client.get("/ui/", params=params)
                        times.append((time.perf_counter() - began) * 1000)
                        assert answer.status_code == 200, answer.text
                    items = answer.text.count('<li class="card')
                    print(f"| {label} | {items} | {statistics.median(times):.1f} |")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
