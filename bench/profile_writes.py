"""Profile small writes: py-spy on one worker while clients upload 10 KiB versions.

    .venv/bin/python bench/profile_writes.py [--clients 16] [--seconds 8] [--idle]

`bench/profile.py upload` profiles one large upload; this profiles what issue 11's write figures
measure (bench/writes.py): many 10 KiB versions, sequential (`--clients 1`) or concurrent. It
starts `mediavault serve` with one worker on a fresh data folder, records that worker with
py-spy (`--idle` keeps the samples of threads that wait: where the time of one request goes,
not only its CPU) and prints the functions with the most samples, own and inclusive, as
bench/profile.py does. `--gil` keeps only the samples of the thread that holds the GIL:
Python's CPU, without the time spent in fsync and other waits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile import PY_SPY, summarize  # bench/profile.py

from tests.support import ServerProcess, free_port
from writes import concurrent, mediavault_upload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--idle", action="store_true", help="keep samples of waiting threads")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL: CPU")
    parser.add_argument("--rows", type=int, default=30)
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mv-profile-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        server = ServerProcess(data=root / "data", port=free_port(), workers=1).start()
        try:
            concurrent(server.base_url, mediavault_upload, args.clients, 1)  # warm up
            raw = root / "profile.txt"
            pids = server.worker_pids()
            assert server.process is not None
            command = [
                str(PY_SPY), "record", "--pid", str(pids[0] if pids else server.process.pid),
                "--duration", str(round(args.seconds)), "--rate", "200", "--format", "raw",
                "--output", str(raw), "--nonblocking",
            ]  # fmt: skip
            if args.idle:
                command.append("--idle")
            if args.gil:
                command.append("--gil")
            recorder = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            result: dict[str, object] = {}

            def load() -> None:
                result["writes"] = concurrent(
                    server.base_url, mediavault_upload, args.clients, args.seconds
                )

            loader = threading.Thread(target=load)
            loader.start()
            recorder.wait()
            loader.join()
        finally:
            server.stop()
        writes, elapsed, _ = result["writes"]  # type: ignore[misc]
        print(f"{writes} writes in {elapsed:.1f} s ({writes / elapsed:.0f}/s)")
        summarize(raw, args.rows)


if __name__ == "__main__":
    main()
