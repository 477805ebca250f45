"""`mediavault import` streams its input: memory stays flat with the export's size, and the
import is still all or nothing. The target runs on the suite's backends (PostgreSQL + S3 in
CI's second run); the source is the embedded default, as a migration to scale-out would be."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediavault.config import Settings
from tests.backends import backend_env
from tests.bulk_library import build_library, run_measured
from tests.support import check_invariants, sql

SMALL, LARGE = 500, 12_000


def exported_library(root: Path, version_count: int) -> Path:
    source = Settings.from_env({}, data=root / "source")
    build_library(source, version_count)
    export = root / "export"
    run = run_measured(source, "export", str(export))
    assert run.returncode == 0, run.output
    return export


def new_target(root: Path) -> Settings:
    return Settings.from_env(backend_env(), data=root / "target")


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_library(tmp_path_factory.mktemp("small"), SMALL)


@pytest.fixture(scope="module")
def large_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_library(tmp_path_factory.mktemp("large"), LARGE)


def test_import_memory_does_not_grow_with_the_export(
    small_export: Path, large_export: Path, tmp_path: Path
) -> None:
    peaks = {}
    for name, export, count in (("small", small_export, SMALL), ("large", large_export, LARGE)):
        target = new_target(tmp_path / name)
        run = run_measured(target, "import", str(export))
        assert run.returncode == 0, run.output
        assert sql(target, "SELECT count(*) FROM versions") == [(count,)]
        peaks[name] = run.peak_rss_bytes
    check_invariants(target)
    # 24 times the rows (42,000 against 1,750); holding them all took ~60 MiB more.
    grown = peaks["large"] - peaks["small"]
    assert grown < 20 * 2**20, f"the large import peaked {grown / 2**20:.0f} MiB higher"


def test_a_bad_line_late_in_the_export_leaves_the_target_empty(
    small_export: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "blobs").symlink_to(small_export / "blobs")
    rows = (small_export / "library.jsonl").read_text()
    (broken / "library.jsonl").write_text(rows + "{not json\n")
    target = new_target(tmp_path)
    run = run_measured(target, "import", str(broken))
    assert run.returncode == 1
    assert "line " in run.output and "not an export row" in run.output
    assert "Traceback" not in run.output
    # Rows are inserted as the file is read, in one transaction: none of them stayed.
    assert sql(target, "SELECT count(*) FROM versions") == [(0,)]
    assert sql(target, "SELECT count(*) FROM files") == [(0,)]


@pytest.mark.parametrize("first_line", ["", "[]\n", '{"format": "other/1"}\n'])
def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path, first_line: str) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "library.jsonl").write_text(first_line)
    run = run_measured(new_target(tmp_path), "import", str(export))
    assert run.returncode == 1
    assert "is not in the mediavault-export/1 format" in run.output
