"""The small-write figures of two source trees in one run, alternately: what a change bought.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/writes_ab.py /tmp/before [--after /tmp/after] [--seconds 5]
        [--sequential 200] [--clients 16] [--rounds 4] [--workers 1] [--before-workers N]

As bench/reads_ab.py does for reads: `mediavault serve` from the tree before (its `src` first
on PYTHONPATH, the same virtualenv) and from the tree after (this checkout unless `--after`
names another), both running throughout, each on a fresh data folder. Each round measures one
and then the other (ABBA: every other round the other first) with bench/writes.py's client:
`--sequential` uploads of 10 KiB versions one after the other, then `--clients` clients
uploading versions of a file each for `--seconds`. The rounds' latencies are pooled per side.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import ServerProcess, free_port
from writes import Writes, _pooled, concurrent, mediavault_upload, sequential


@contextmanager
def server(root: Path, name: str, tree: Path | None, workers: int) -> Iterator[str]:
    process = ServerProcess(data=root / name / "data", port=free_port(), workers=workers)
    process.env = {"PYTHONPATH": str(tree / "src")} if tree else {}
    (root / name).mkdir()
    process.start()
    try:
        yield process.base_url
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the root of the other source tree")
    parser.add_argument("--after", type=Path, help="the root of the tree after (default: this)")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--before-workers", type=int, help="workers of the tree before, if other")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mv-ab-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        with ExitStack() as stack:
            before_workers = args.before_workers or args.workers
            before_tree = args.before.resolve()
            before = stack.enter_context(server(root, "before", before_tree, before_workers))
            after_tree = args.after.resolve() if args.after else None
            after = stack.enter_context(server(root, "after", after_tree, args.workers))
            for url in (before, after):  # warm up: first versions, the workers' first imports
                concurrent(url, mediavault_upload, args.clients, 1)
            runs: dict[str, list[Writes]] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                pair = [(before, "before"), (after, "after")]
                for url, side in pair if round_ % 2 == 0 else pair[::-1]:
                    seq = sequential(url, mediavault_upload, args.sequential)
                    writes, elapsed, every = concurrent(
                        url, mediavault_upload, args.clients, args.seconds
                    )
                    runs[side].append(Writes(seq, writes, elapsed, every))
                    print(f"round {round_ + 1} {side}: {writes / elapsed:.0f} writes/s", flush=True)
    pooled = {side: _pooled(found) for side, found in runs.items()}
    b, a = pooled["before"], pooled["after"]
    n = args.clients
    print(
        f"| figure (workers: {before_workers} before, {args.workers} after) | before | after "
        "| after ÷ before |"
    )
    print("|---|---:|---:|---:|")
    rows = [
        ("sequential median, ms", b.median_ms, a.median_ms),
        (f"{n} clients, writes/s", b.per_second, a.per_second),
        (f"{n} clients, p50 ms", b.p50_ms, a.p50_ms),
        (f"{n} clients, p99 ms", b.p99_ms, a.p99_ms),
    ]  # fmt: skip
    for label, old, new in rows:
        print(f"| {label} | {old:,.1f} | {new:,.1f} | {new / old:.2f} |")


if __name__ == "__main__":
    main()
