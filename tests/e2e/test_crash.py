"""The short form of the crash test (the long one: python -m tests.crash_harness), and the
harness's rule for which version may be current after a crash."""

from __future__ import annotations

from pathlib import Path

from tests.crash_harness import UNKNOWN_VERSION, Ledger, Op, run


def test_acknowledged_writes_survive_sigkill_mid_traffic(tmp_path: Path) -> None:
    ledger = run(tmp_path, cycles=4, workers=2, seed=7)
    assert len(ledger.versions) > 10
    assert ledger.answers["restore 200"] > 0
    assert not ledger.failures


def _candidates(*ops: Op) -> set[str]:
    ledger = Ledger(paths={"F": "/p"}, setters=list(ops))
    return {op.version_id or UNKNOWN_VERSION for op in ledger.in_effect("F")}


def _op(kind: str, version: str | None, sent: int, answered: int, status: int | None) -> Op:
    file_id = None if kind == "upload" and status is None else "F"
    return Op(kind, "/p", file_id, version, sent=sent, answered=answered, status=status)


def test_an_acknowledged_restore_after_an_upload_is_the_only_candidate() -> None:
    upload = _op("upload", "v2", 0, 1, 200)
    restore = _op("restore", "v1", 2, 3, 200)
    assert _candidates(upload, restore) == {"v1"}


def test_a_later_acknowledged_upload_overrides_the_restore() -> None:
    restore = _op("restore", "v1", 0, 1, 200)
    upload = _op("upload", "v3", 2, 3, 200)
    assert _candidates(restore, upload) == {"v3"}


def test_overlapping_requests_are_both_candidates() -> None:
    restore = _op("restore", "v1", 0, 3, 200)
    upload = _op("upload", "v3", 1, 2, 200)
    assert _candidates(restore, upload) == {"v1", "v3"}


def test_requests_of_unknown_outcome_are_candidates_but_override_nothing() -> None:
    restore = _op("restore", "v1", 0, 1, 200)
    cut_upload = _op("upload", None, 2, 9, None)
    cut_restore = _op("restore", "v0", 3, 9, None)
    assert _candidates(restore, cut_upload, cut_restore) == {"v1", UNKNOWN_VERSION, "v0"}


def test_a_refused_restore_is_no_candidate_and_overrides_nothing() -> None:
    upload = _op("upload", "v2", 0, 1, 200)
    refused = _op("restore", "v1", 2, 3, 404)
    assert _candidates(upload, refused) == {"v2"}
