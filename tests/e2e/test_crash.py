"""The short form of the crash test (the long one: python -m tests.crash_harness)."""

from __future__ import annotations

from pathlib import Path

from tests.crash_harness import run


def test_acknowledged_writes_survive_sigkill_mid_traffic(tmp_path: Path) -> None:
    ledger = run(tmp_path, cycles=4, workers=2, seed=7)
    assert len(ledger.versions) > 10
