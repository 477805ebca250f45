"""The read figures of the suite alone (issue 11): 10 KiB deliveries, 304s, list and details.

    .venv/bin/python bench/reads.py [--seconds 3]

The same measurements as `bench/run` (bench/suite.py's measure_reads): mediavault on one
worker and on two, the ASGI hello-world app with the same worker counts, and SeaweedFS with S3
versioning, all started here; each figure between two runs of its baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from suite import Inputs, measure_reads, read_figures, read_notes, render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mv-reads-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        inputs = Inputs(root, args.seconds, os.cpu_count() or 1, 0, root, root)
        reads = measure_reads(inputs)
    figures = read_figures(reads)
    report = render(figures, psutil.cpu_count() or 1, args, read_notes(reads))
    # render() describes the suite's main servers; these run with the worker counts named.
    print(report.split("\n", 1)[1].lstrip("\n"))
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
