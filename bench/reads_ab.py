"""The read figures of two source trees in one run, alternately: what a change bought.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/reads_ab.py /tmp/before [--after /tmp/after] [--seconds 3]
        [--rounds 2] [--workers 1] [--routes deliver,304,...]

Starts `mediavault serve` from the tree before (its `src` first on PYTHONPATH, the same
virtualenv) and from the tree after (this checkout unless `--after` names another), puts the
same files in both (a 10 KiB file with two versions, a file with 100 versions), then measures
each route on one server and on the other in turn, `--rounds` times, every other round the
other one first, with wrk at 32 connections. Both servers run throughout, the idle one idle,
so the machine's other load weighs on both alike; the printed ratio is of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite import SMALL, mv_upload, wrk
from tests.support import TEST_KEY, ServerProcess, free_port

ROUTES = ("deliver", "deliver by ik-obj-version", "304", "version details", "list 100 versions")


@contextmanager
def server(root: Path, name: str, tree: Path | None, workers: int) -> Iterator[dict[str, tuple]]:
    env = {"PYTHONPATH": str(tree / "src")} if tree else {}
    process = ServerProcess(data=root / name / "data", port=free_port(), workers=workers)
    process.env = env
    (root / name).mkdir()
    process.start()
    client = httpx.Client(base_url=process.base_url, auth=(TEST_KEY, ""), timeout=60)
    try:
        older, current = os.urandom(SMALL), os.urandom(SMALL)
        mv_upload(client, "small.bin", older)
        file_id = mv_upload(client, "small.bin", current)["fileId"]
        small = client.get(f"/v1/files/{file_id}/versions").json()
        plain = small[0]["url"].split("?")[0]
        etag = httpx.get(plain).headers["etag"]
        for n in range(100):
            hundred = mv_upload(client, "hundred.bin", f"version {n}".encode())
        versions = client.get(f"/v1/files/{hundred['fileId']}/versions").json()
        api = f"{process.base_url}/v1/files/{hundred['fileId']}/versions"
        yield {
            "deliver": (plain, {}),
            "deliver by ik-obj-version": (small[1]["url"], {}),
            "304": (plain, {"headers": (f"If-None-Match: {etag}",)}),
            "version details": (f"{api}/{versions[50]['versionInfo']['id']}", {"auth": True}),
            "list 100 versions": (api, {"auth": True}),
        }
    finally:
        client.close()
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the root of the other source tree")
    parser.add_argument("--after", type=Path, help="the root of the tree after (default: this)")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--routes", default=",".join(ROUTES))
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    routes = args.routes.split(",")
    with tempfile.TemporaryDirectory(prefix="mv-ab-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        before = stack.enter_context(server(root, "before", args.before.resolve(), args.workers))
        after_tree = args.after.resolve() if args.after else None
        after = stack.enter_context(server(root, "after", after_tree, args.workers))
        print(f"| route ({args.workers} worker) | before req/s | after req/s | after ÷ before |")
        print("|---|---:|---:|---:|")
        for route in routes:
            runs: dict[str, list[float]] = {"before": [], "after": []}
            for urls in (before, after):
                url, kw = urls[route]
                wrk(url, 1, 32, **kw)  # warm up
            for round_ in range(args.rounds):
                pair = [(before, "before"), (after, "after")]
                for urls, side in pair if round_ % 2 == 0 else pair[::-1]:  # ABBA: no side first
                    url, kw = urls[route]
                    runs[side].append(wrk(url, args.seconds, 32, **kw).rps)
            b, a = statistics.median(runs["before"]), statistics.median(runs["after"])
            print(f"| {route} | {b:,.0f} | {a:,.0f} | {a / b:.2f} |", flush=True)


if __name__ == "__main__":
    main()
