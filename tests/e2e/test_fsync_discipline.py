"""Fsync discipline at the system-call level (tests/fsync_trace.py): the real server under
strace, and the checker itself on small logs that break one rule each."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fsync_trace import Checker, Report, Upload, parse, trace_and_check


def _strace_or_skip() -> None:
    if shutil.which("strace") is not None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("strace is not installed: CI must run this test (.ci/run installs strace)")
    pytest.skip("strace is not installed (apt-get install strace); CI installs it and runs this")


def test_uploads_restores_and_deletes_keep_the_fsync_discipline(tmp_path: Path) -> None:
    _strace_or_skip()
    # From a first start: the data folder, its parents and the generated key are checked too.
    report = trace_and_check(tmp_path, first_start=True)
    assert report.findings == []
    # It saw what it is meant to judge: new shard directories, blobs, deletes, commits.
    assert report.uploads_checked >= 20
    assert report.blobs_published >= 10
    assert report.directories_created >= 20
    assert report.entries_removed >= 4
    assert report.commits >= 20


# --- the checker on hand-written logs -----------------------------------------------------

DIGEST = "ab12" + "0" * 60
BLOB = f"/d/blobs/sha256/ab/12/{DIGEST}"
VERSION = "6b0cf3b96357a83f341babe4"
STAGED = "/d/blobs/.staging/7-5d24664208ea1fc6bb0f5b7f163b0872"

STORE_START = [
    'mkdir("/d/blobs", 0777) = 0',
    'mkdir("/d/blobs/sha256", 0777) = 0',
    "fsync(3</d>) = 0",
    "fsync(3</d/blobs>) = 0",
]
STAGE = [
    f'openat(AT_FDCWD</w>, "{STAGED}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 4<{STAGED}>',
    f'write(4<{STAGED}>, "hello", 5) = 5',
    f"fsync(4<{STAGED}>) = 0",
]
SHARD = [
    'mkdir("/d/blobs/sha256/ab", 0777) = 0',
    'mkdir("/d/blobs/sha256/ab/12", 0777) = 0',
    "fsync(5</d/blobs/sha256>) = 0",
    "fsync(5</d/blobs/sha256/ab>) = 0",
]
RENAME = [f'rename("{STAGED}", "{BLOB}") = 0', "fsync(5</d/blobs/sha256/ab/12>) = 0"]
COMMIT = [
    f'pwrite64(6</d/mediavault.sqlite3-wal>, "\\r\\0\\0\\0\\002{VERSION}\\0", 28, 4152) = 28',
    "fdatasync(6</d/mediavault.sqlite3-wal>) = 0",
]
ANSWER = [
    '201 writev(9<socket:[26145]>, [{iov_base="HTTP/1.1 200 OK\\r\\n\\r\\n", iov_len=19}, '
    f'{{iov_base="{{\\"versionInfo\\":{{\\"id\\":\\"{VERSION}\\"}}}}", iov_len=40}}], 2) = 59'
]
GOOD = STORE_START + STAGE + SHARD + RENAME + COMMIT + ANSWER


def _check(lines: list[str]) -> Report:
    log = []
    for line in lines:
        tid, _, call = line.partition(" ") if line[0].isdigit() else ("100", "", line)
        log.append(f"{tid}  04:03:51.813089 {call}\n")
    return Checker(parse(log), Path("/d")).check([Upload(VERSION, DIGEST)])


def _without(lines: list[str], *dropped: str) -> list[str]:
    return [line for line in lines if line not in dropped]


def test_a_durable_upload_has_no_findings() -> None:
    report = _check(GOOD)
    assert report.findings == []
    assert (report.blobs_published, report.directories_created, report.commits) == (1, 4, 1)


def test_calls_interrupted_by_other_threads_are_joined() -> None:
    staging_sync = f"fsync(4<{STAGED}>) = 0"
    split = [
        f"100 fsync(4<{STAGED}> <unfinished ...>",
        '200 write(9<socket:[1]>, "x", 1) = 1',
        "100 <... fsync resumed>) = 0",
    ]
    index = GOOD.index(staging_sync)
    assert _check([*GOOD[:index], *split, *GOOD[index + 1 :]]).findings == []


def test_shard_directories_whose_parents_are_not_fsynced() -> None:
    """The old publish: mkdir(parents=True), then an fsync of the leaf directory only."""
    report = _check(_without(GOOD, *SHARD[2:]))
    assert any("before /d/blobs/sha256 is fsynced" in f for f in report.findings)
    assert any("before /d/blobs/sha256/ab is fsynced" in f for f in report.findings)


def test_the_store_folders_must_be_durable_too() -> None:
    report = _check(_without(GOOD, "fsync(3</d/blobs>) = 0"))
    assert any("before /d/blobs is fsynced" in f for f in report.findings)


def test_a_blob_renamed_before_its_data_is_fsynced() -> None:
    report = _check(_without(GOOD, f"fsync(4<{STAGED}>) = 0"))
    assert any(
        f"the data of {STAGED} is not fsynced before its rename" in f for f in report.findings
    )


def test_a_blob_entry_not_fsynced_before_the_commit() -> None:
    late = [*STORE_START, *STAGE, *SHARD, RENAME[0], *COMMIT, RENAME[1], *ANSWER]
    report = _check(late)
    assert any("before /d/blobs/sha256/ab/12 is fsynced" in f for f in report.findings)


SECOND = "/d/blobs/.staging/8-0e5f0d0a2c1b4e6f8a9b0c1d2e3f4a5b"
SAME_BYTES_AGAIN = [  # another upload of the same bytes, which found no blob and renames too
    f'openat(AT_FDCWD</w>, "{SECOND}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 7<{SECOND}>',
    f'write(7<{SECOND}>, "hello", 5) = 5',
    f"fsync(7<{SECOND}>) = 0",
    f'rename("{SECOND}", "{BLOB}") = 0',
]


def test_a_second_rename_of_the_same_bytes_after_the_first_was_synced() -> None:
    """The first upload's rename was fsynced; the second renames over it and the first commits
    before the second's fsync: the blob was durably in place, the same bytes either way."""
    lines = [*STORE_START, *STAGE, *SHARD, *RENAME, *SAME_BYTES_AGAIN, *COMMIT, RENAME[1]]
    assert _check([*lines, *ANSWER]).findings == []


def test_two_renames_of_the_same_bytes_neither_synced_before_the_commit() -> None:
    lines = [*STORE_START, *STAGE, *SHARD, RENAME[0], *SAME_BYTES_AGAIN, *COMMIT, RENAME[1]]
    report = _check([*lines, *ANSWER])
    assert any("before /d/blobs/sha256/ab/12 is fsynced" in f for f in report.findings)


def test_a_version_committed_before_its_blob_is_published() -> None:
    report = _check([*STORE_START, *STAGE, *SHARD, *COMMIT, *RENAME, *ANSWER])
    assert any("commits before its blob is in place" in f for f in report.findings)


def test_a_commit_the_wal_sync_does_not_cover() -> None:
    """synchronous=NORMAL: the thread goes on (here: wakes the event loop) without a sync."""
    normal = [
        *STORE_START,
        *STAGE,
        *SHARD,
        *RENAME,
        COMMIT[0],
        'sendto(7<socket:[2]>, "\\0", 1, 0, NULL, 0) = 1',
    ]
    report = _check(normal)
    assert any("a WAL write is not synced before sendto" in f for f in report.findings)


def test_an_answer_sent_before_its_commit_is_synced() -> None:
    early = [*STORE_START, *STAGE, *SHARD, *RENAME, COMMIT[0], *ANSWER, COMMIT[1]]
    report = _check(early)
    assert any("acknowledged before its commit is synced" in f for f in report.findings)


def test_exempt_entries_need_no_fsync_and_others_do() -> None:
    exempt = [
        f'unlink("{BLOB}") = 0',  # garbage: a resurrected blob is unreferenced, fsck removes it
        f'unlink("{STAGED}") = 0',
        'mkdir("/d/cache/thumbnails/ab", 0777) = 0',
        'unlink("/d/mediavault.sqlite3-wal") = 0',
    ]
    assert _check(GOOD + exempt).findings == []
    report = _check([*GOOD, 'mkdir("/d/exports", 0777) = 0'])
    assert report.findings == [
        "line 17 (mkdir /d/exports): /d gains the directory 'exports' and is never fsynced after"
    ]


def test_relative_paths_start_from_the_working_directory_the_log_shows() -> None:
    relative = [
        *GOOD,
        'openat(AT_FDCWD</d>, "x", O_RDONLY) = 8</d/x>',
        'mkdir("exports", 0777) = 0',
    ]
    assert any("(mkdir /d/exports)" in f for f in _check(relative).findings)


# --- group commit: one sync of the WAL, by any thread, serves every commit before it --------

WAL = "6</d/mediavault.sqlite3-wal>"
LEADER_SYNC = [f"300 fdatasync({WAL}) = 0"]
WAKE_LOOP = '100 sendto(7<socket:[2]>, "\\0", 1, 0, NULL, 0) = 1'
PUBLISHED = [*STORE_START, *STAGE, *SHARD, *RENAME]


def test_a_sync_by_another_thread_after_the_commit_serves_it() -> None:
    """The committing thread waits (no traced call) while another thread syncs the WAL."""
    grouped = [*PUBLISHED, f"100 {COMMIT[0]}", *LEADER_SYNC, WAKE_LOOP, *ANSWER]
    report = _check(grouped)
    assert report.findings == []
    assert report.commits == 1


def test_a_sync_that_started_before_the_commit_was_written_does_not_serve_it() -> None:
    """A round already under way when the commit's frames were written may miss them."""
    early_round = [
        *PUBLISHED,
        f"300 fdatasync({WAL} <unfinished ...>",
        f"100 {COMMIT[0]}",
        "300 <... fdatasync resumed>) = 0",
        WAKE_LOOP,
        *ANSWER,
    ]
    report = _check(early_round)
    assert any("a WAL write is not synced before sendto" in f for f in report.findings)
    assert any("acknowledged before its commit is synced (never)" in f for f in report.findings)


def test_an_answer_sent_while_another_threads_sync_is_still_running() -> None:
    unfinished = [
        *PUBLISHED,
        f"100 {COMMIT[0]}",
        f"300 fdatasync({WAL} <unfinished ...>",
        *ANSWER,
        "300 <... fdatasync resumed>) = 0",
    ]
    report = _check(unfinished)
    assert any("acknowledged before its commit is synced" in f for f in report.findings)


# A commit as SQLite writes it: each frame's 24-byte header, then its page; the last frame's
# header carries the database size after the commit (here 3 pages), which ends the commit.
FRAME = f'pwrite64({WAL}, "\\0\\0\\0\\2\\0\\0\\0\\0\\1\\2\\3\\4\\5\\6\\7\\10\\11\\12\\13\\14\\15\\16\\17\\20", 24, 32) = 24'
COMMIT_FRAME = f'pwrite64({WAL}, "\\0\\0\\0\\3\\0\\0\\0\\3\\1\\2\\3\\4\\5\\6\\7\\10\\11\\12\\13\\14\\15\\16\\17\\20", 24, 4152) = 24'
PAGE = f'pwrite64({WAL}, "\\r\\0\\0\\0\\002{VERSION}\\0", 28, 4176) = 28'
NEXT_PAGE = f'pwrite64({WAL}, "\\r\\0\\0\\0\\002another\\0", 15, 8296) = 15'


def test_a_commit_ends_with_the_page_after_its_commit_frame() -> None:
    """A thread's next commit follows the last one without a traced call in between (it
    waited on another thread's sync): the first commit needs only that sync."""
    back_to_back = [
        *PUBLISHED,
        f"100 {FRAME}",
        f"100 {COMMIT_FRAME}",
        f"100 {PAGE}",
        *LEADER_SYNC,
        f"100 {NEXT_PAGE}",
        *ANSWER,
        *LEADER_SYNC,
        WAKE_LOOP,
    ]
    report = _check(back_to_back)
    assert report.findings == []
    assert report.commits == 2


def test_a_thread_that_commits_again_before_its_last_commit_is_synced() -> None:
    unsynced = [
        *PUBLISHED,
        f"100 {FRAME}",
        f"100 {COMMIT_FRAME}",
        f"100 {PAGE}",
        f"100 {NEXT_PAGE}",
        *LEADER_SYNC,
        *ANSWER,
    ]
    report = _check(unsynced)
    assert any("a WAL write is not synced before pwrite64" in f for f in report.findings)
