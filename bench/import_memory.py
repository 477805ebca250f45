"""Benchmark: peak memory of `mediavault import` against the size of the export.

    .venv/bin/python bench/import_memory.py [--versions 100000] [--small 1000]

Builds two libraries by bulk inserts (tests/bulk_library.py: two versions per file, two tags
per version, 64 distinct blobs), writes each out with the real `mediavault export`, then runs
the real `mediavault import` of each into an empty library and reads each process's peak RSS
from the kernel (wait4's ru_maxrss). Flat memory means the large import peaks close to the
small one, not in proportion to the rows. The source is SQLite and local disk; the import's
target too, or PostgreSQL + S3 when the test suite's MEDIAVAULT_TEST_* variables are set
(`eval "$(./scripts/backends start)"`), a new database and prefix per run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backends import backend_env, describe
from tests.bulk_library import MeasuredRun, build_library, run_measured

from mediavault.config import Settings


def checked(run: MeasuredRun) -> MeasuredRun:
    if run.returncode != 0:
        raise RuntimeError(run.output)
    return run


def measure(root: Path, version_count: int) -> dict[str, str]:
    source = Settings.from_env({}, data=root / "source")
    target = Settings.from_env(backend_env(), data=root / "target")
    export = root / "export"
    started = time.perf_counter()
    build_library(source, version_count)
    built = time.perf_counter() - started
    exported = checked(run_measured(source, "export", str(export)))
    imported = checked(run_measured(target, "import", str(export)))
    rows_file = export / "library.jsonl"
    with rows_file.open("rb") as lines:
        rows = sum(1 for _ in lines) - 1
    return {
        "versions": f"{version_count:,}",
        "rows": f"{rows:,}",
        "library.jsonl": f"{rows_file.stat().st_size / 1e6:.1f} MB",
        "build s": f"{built:.1f}",
        "export s": f"{exported.seconds:.1f}",
        "export peak RSS": f"{exported.peak_rss_bytes / 2**20:.0f} MiB",
        "import s": f"{imported.seconds:.1f}",
        "import peak RSS": f"{imported.peak_rss_bytes / 2**20:.0f} MiB",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    args = parser.parse_args()
    print(f"import target: {describe()}")
    results = []
    for count in (args.small, args.versions):
        with tempfile.TemporaryDirectory(prefix="mv-import-bench-") as tmp:
            results.append(measure(Path(tmp), count))
            print(results[-1], flush=True)
    columns = list(results[0])
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---:|" * len(columns))
    for result in results:
        print("| " + " | ".join(result[c] for c in columns) + " |")
    small, large = (float(r["import peak RSS"].split()[0]) for r in results)
    print(f"\nimport peak RSS, large ÷ small: {large / small:.2f}")


if __name__ == "__main__":
    main()
