"""Benchmark: the server's memory during a 1 GiB upload, alone (issue 11's memory target).

    .venv/bin/python bench/memory.py [--big-mib 1024] [--runs 1]

Runs `measure_upload_memory` from bench/suite.py, the figure `bench/run` prints as "server
memory during that upload, default settings (1 worker)": `mediavault serve` with its default
settings, one small upload and 2 s of wrk on version details, then the large upload with curl
while the whole process tree is sampled every 20 ms. Prints, per run, the peak of the tree's RSS
summed and PSS summed, and each process's RSS and PSS at its own peak, idle (before the upload)
and during it. Needs wrk and curl (bench/run installs wrk).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import psutil
import suite  # bench/suite.py, beside this file
from suite import Inputs, PeakRss, measure_upload_memory, random_file


def role(process: psutil.Process, root: psutil.Process) -> str:
    if process.pid == root.pid:
        return "main process"
    with contextlib.suppress(psutil.Error):
        if "resource_tracker" in " ".join(process.cmdline()):
            return "resource tracker"
    return "worker"


class DetailedPeakRss(PeakRss):
    """PeakRss, plus each process's RSS and PSS: once before the block (idle) and its own peak
    during it (peaks of different processes need not coincide)."""

    def _snapshot(self) -> dict[str, tuple[int, int]]:
        found = {}
        for p in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                full = p.memory_full_info()
                found[role(p, self.root)] = (full.rss, full.pss)
        return found

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, (rss, pss) in self._snapshot().items():
                old = self.peaks.get(name, (0, 0))
                self.peaks[name] = (max(old[0], rss), max(old[1], pss))
            self._sample_once()
            self._stop.wait(self.interval)

    def _sample_once(self) -> None:
        rss, pss = [], 0
        for p in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                full = p.memory_full_info()
                rss.append(full.rss)
                pss += full.pss
        if rss:
            self.total, self.single = max(self.total, sum(rss)), max(self.single, max(rss))
            self.pss = max(self.pss, pss)

    def __enter__(self) -> DetailedPeakRss:
        self.idle = self._snapshot()
        self.peaks: dict[str, tuple[int, int]] = {}
        super().__enter__()
        return self


suite.PeakRss = DetailedPeakRss  # type: ignore[misc]  # what measure_upload_memory samples with


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large upload")
    parser.add_argument("--runs", type=int, default=1, help="how many times to measure")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run bench/run, which installs it")
    with tempfile.TemporaryDirectory(prefix="mv-memory-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        inputs = Inputs(
            root=root,
            seconds=2,
            cores=os.cpu_count() or 1,
            big_mib=args.big_mib,
            big=random_file(root / "big.bin", args.big_mib * 1024 * 1024),
            hundred_mb=root / "unused",
        )
        passed = True
        for run in range(args.runs):
            inputs.root = root / f"run-{run}"
            inputs.root.mkdir()
            memory = measure_upload_memory(inputs)
            assert isinstance(memory, DetailedPeakRss)
            passed = passed and memory.total / 1e6 <= 150
            print(
                f"run {run + 1}: tree peak RSS summed {memory.total / 1e6:.1f} MB, "
                f"PSS summed {memory.pss / 1e6:.1f} MB (target: RSS summed <= 150 MB)"
            )
            for label, table in (("idle", memory.idle), ("upload", memory.peaks)):
                for name, (rss, pss) in table.items():
                    print(f"  {label:6} {name:18} RSS {rss / 1e6:6.1f} MB  PSS {pss / 1e6:6.1f} MB")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
