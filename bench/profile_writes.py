"""Profile small writes: py-spy on one worker while clients upload 10 KiB versions.

    .venv/bin/python bench/profile_writes.py [--clients 16] [--seconds 8] [--idle]
    .venv/bin/python bench/profile_writes.py --in-process [--uploads 2000] [--cprofile]

`bench/profile.py upload` profiles one large upload; this profiles what issue 11's write figures
measure (bench/writes.py): many 10 KiB versions, sequential (`--clients 1`) or concurrent. It
starts `mediavault serve` with one worker on a fresh data folder, records that worker with
py-spy (`--idle` keeps the samples of threads that wait: where the time of one request goes,
not only its CPU) and prints the functions with the most samples, own and inclusive, as
bench/profile.py does. `--gil` keeps only the samples of the thread that holds the GIL:
Python's CPU, without the time spent in fsync and other waits.

`--in-process` runs the upload service itself (`services.uploads.upload`, after staging and
probing 10 KiB as the route does) in this process, one thread, with no server and no HTTP, and
prints its CPU time and wall time per upload (medians of `--repeat` batches), and the fsyncs
per upload; `--cprofile` adds cProfile's table of the batch. The CPU figure is disturbed less
by other work on the machine than a latency is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# bench/profile.py shadows the standard library's profile, which cProfile imports: import
# cProfile without bench/ on the path, and bench/profile.py under a name of its own.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry not in ("", _HERE)]
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import pstats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, _HERE)

from tests.support import ServerProcess, free_port  # noqa: E402
from writes import concurrent, mediavault_upload  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_profile", Path(_HERE) / "profile.py")
assert _spec is not None and _spec.loader is not None
_bench_profile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_profile)
PY_SPY, summarize = _bench_profile.PY_SPY, _bench_profile.summarize  # bench/profile.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--idle", action="store_true", help="keep samples of waiting threads")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL: CPU")
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--in-process", action="store_true", help="the service, no server")
    parser.add_argument("--uploads", type=int, default=500, help="--in-process: a batch")
    parser.add_argument("--repeat", type=int, default=5, help="--in-process: batches")
    parser.add_argument("--cprofile", action="store_true", help="--in-process: cProfile")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    if args.in_process:
        in_process(args.uploads, args.repeat, args.cprofile, args.rows)
        return
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


def in_process(uploads: int, repeat: int, cprofile: bool, rows: int) -> None:
    """CPU and wall time per upload of the service alone (new versions of one file, 10 KiB)."""
    import statistics
    import time
    from unittest import mock

    from writes import SIZE, content

    from mediavault.config import Settings
    from mediavault.domain.versioning import UploadOptions
    from mediavault.media.probe import probe
    from mediavault.services import uploads as service
    from mediavault.wiring import build_stores, prepare_data_folder

    with tempfile.TemporaryDirectory(prefix="mv-profile-", dir=os.environ.get("BENCH_DIR")) as tmp:
        settings = Settings(data=Path(tmp) / "data")
        prepare_data_folder(settings)
        stores = build_stores(settings)
        options = UploadOptions(use_unique_file_name=False)
        counter = [0]

        def one() -> None:
            n = counter[0]
            counter[0] += 1
            writer = stores.blobs.stage(SIZE * 2)
            writer.write(content(n, 1))
            staged = writer.finish()

            def source():  # type: ignore[no-untyped-def]
                return stores.blobs.open_staged(staged)

            info = probe(source, staged.head, staged.digest, staged.size)
            target = service.UploadTarget(f"f-{n // 100:04d}.bin", "/bench-writes")
            service.upload(stores, staged, info, target, options)

        real_fsync, real_fdatasync = os.fsync, os.fdatasync
        syncs = [0]

        def count_fsync(fd: int) -> None:
            syncs[0] += 1
            real_fsync(fd)

        def count_fdatasync(fd: int) -> None:
            syncs[0] += 1
            real_fdatasync(fd)

        try:
            for _ in range(50):  # warm up
                one()
            cpu, wall, per_sync = [], [], []
            profiler = cProfile.Profile() if cprofile else None
            with (
                mock.patch("os.fsync", count_fsync),
                mock.patch("os.fdatasync", count_fdatasync),
            ):
                for _ in range(repeat):
                    syncs[0] = 0
                    c0, w0 = time.process_time(), time.perf_counter()
                    if profiler is not None:
                        profiler.enable()
                    for _ in range(uploads):
                        one()
                    if profiler is not None:
                        profiler.disable()
                    cpu.append((time.process_time() - c0) / uploads * 1000)
                    wall.append((time.perf_counter() - w0) / uploads * 1000)
                    per_sync.append(syncs[0] / uploads)
        finally:
            stores.close()
        print(
            f"{uploads} uploads x {repeat}: CPU {statistics.median(cpu):.2f} ms/upload, least "
            f"{min(cpu):.2f} (batches {', '.join(f'{c:.2f}' for c in cpu)}), wall "
            f"{statistics.median(wall):.2f} ms/upload, fsyncs (Python's) "
            f"{statistics.median(per_sync):.2f}/upload"
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(rows)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(rows)


if __name__ == "__main__":
    main()
