"""The rendition cache: computed once across threads and processes, atomic, bounded (LRU),
forgotten with its blob, kept across restarts, checked for fsck."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from mediavault.media.transform import TransformEngine, pipeline
from mediavault.media.transform.cache import RenditionCache

DIGEST = hashlib.sha256(b"blob").hexdigest()
OTHER = hashlib.sha256(b"other blob").hexdigest()
KEY = "0123456789abcdef0123456789abcdef"


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:32]


def writer(data: bytes, ext: str = "png"):  # type: ignore[no-untyped-def]
    def produce(temp: Path) -> str:
        temp.write_bytes(data)
        return ext

    return produce


def test_a_rendition_is_computed_then_found(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)
    assert cache.lookup(DIGEST, KEY) is None
    path, ext = cache.get_or_create(DIGEST, KEY, writer(b"pixels")) or (None, None)
    assert path == tmp_path / "r" / DIGEST[:2] / DIGEST / f"{KEY}.png" and ext == "png"
    assert path.read_bytes() == b"pixels"
    assert cache.lookup(DIGEST, KEY) == (path, "png")

    def never(temp: Path) -> str:
        raise AssertionError("computed twice")

    assert cache.get_or_create(DIGEST, KEY, never) == (path, "png")


def test_a_rendition_removed_by_another_process_is_made_again(tmp_path: Path) -> None:
    # A process remembers where it found a rendition; another may evict it meanwhile.
    cache = RenditionCache(tmp_path / "r", 10**9)
    other = RenditionCache(tmp_path / "r", 10**9)
    path, _ = cache.get_or_create(DIGEST, KEY, writer(b"first")) or (None, None)
    assert path is not None and cache.lookup(DIGEST, KEY) == (path, "png")
    other.forget(DIGEST)
    assert not path.exists()
    again = cache.get_or_create(DIGEST, KEY, writer(b"second"))
    assert again == (path, "png") and path.read_bytes() == b"second"
    cache.forget(DIGEST)
    assert cache.lookup(DIGEST, KEY) is None  # forgotten here too: nothing remembered


def test_a_remembered_rendition_is_still_marked_used(tmp_path: Path) -> None:
    # The shared LRU clock is the file's mtime: a rendition served from memory still ages
    # only by `touch_after`.
    cache = RenditionCache(tmp_path / "r", 10**9, touch_after=0.0, min_age=0.0)
    path, _ = cache.get_or_create(DIGEST, KEY, writer(b"pixels")) or (None, None)
    assert path is not None
    os.utime(path, (1, 1))
    time.sleep(0.01)
    assert cache.lookup(DIGEST, KEY) == (path, "png")
    assert path.stat().st_mtime > time.time() - 60


def test_nothing_half_written_is_ever_visible(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)

    def produce(temp: Path) -> str:
        temp.write_bytes(b"half")
        assert cache.lookup(DIGEST, KEY) is None  # the temp file is not a rendition
        assert [p.name for p in temp.parent.iterdir()] == [temp.name]
        assert temp.name.startswith(".") and temp.name.endswith(".tmp")
        temp.write_bytes(b"whole")
        return "webp"

    path, _ = cache.get_or_create(DIGEST, KEY, produce) or (Path(), "")
    assert path.read_bytes() == b"whole"
    assert [p.name for p in path.parent.iterdir()] == [f"{KEY}.webp"]


def test_failures_and_refusals_leave_nothing(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)

    def fails(temp: Path) -> str:
        temp.write_bytes(b"partial")
        raise OSError("disk trouble")

    with pytest.raises(OSError, match="disk trouble"):
        cache.get_or_create(DIGEST, KEY, fails)
    assert list(cache.folder(DIGEST).iterdir()) == []

    def nothing(temp: Path) -> None:
        temp.write_bytes(b"unused")
        return None

    assert cache.get_or_create(DIGEST, KEY, nothing) is None
    assert list(cache.folder(DIGEST).iterdir()) == []
    assert cache.get_or_create(DIGEST, KEY, writer(b"ok")) is not None  # and it recovers


def test_concurrent_threads_compute_once(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)
    calls = []
    start = threading.Barrier(8)
    results: list[object] = []

    def produce(temp: Path) -> str:
        calls.append(1)
        time.sleep(0.3)
        temp.write_bytes(b"once")
        return "jpg"

    def request() -> None:
        start.wait()
        results.append(cache.get_or_create(DIGEST, KEY, produce))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8 and len(set(map(str, results))) == 1


def test_two_caches_on_one_folder_compute_once(tmp_path: Path) -> None:
    # Two instances share only the folder, like two processes: the file lock decides.
    first, second = RenditionCache(tmp_path / "r", 10**9), RenditionCache(tmp_path / "r", 10**9)
    calls = []
    start = threading.Barrier(2)

    def produce(temp: Path) -> str:
        calls.append(1)
        time.sleep(0.3)
        temp.write_bytes(b"once")
        return "jpg"

    def request(cache: RenditionCache) -> None:
        start.wait()
        assert cache.get_or_create(DIGEST, KEY, produce) is not None

    threads = [threading.Thread(target=request, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def _request_in_process(root: str, counter: str, start: object, results: object) -> None:
    cache = RenditionCache(Path(root), 10**9)

    def produce(temp: Path) -> str:
        with open(counter, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        temp.write_bytes(b"from a process")
        return "avif"

    start.wait()  # type: ignore[attr-defined]
    found = cache.get_or_create(DIGEST, KEY, produce)
    results.put(str(found[0]) if found else "")  # type: ignore[attr-defined]


@pytest.mark.slow
def test_concurrent_processes_compute_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    counter = tmp_path / "computations"
    root = tmp_path / "r"
    processes = [
        context.Process(target=_request_in_process, args=(str(root), str(counter), start, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    paths = {results.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(counter.read_text().splitlines()) == 1
    assert paths == {str(root / DIGEST[:2] / DIGEST / f"{KEY}.avif")}


def _age(path: Path, seconds_ago: float) -> None:
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_least_recently_used_renditions_are_evicted(tmp_path: Path) -> None:
    filler = RenditionCache(tmp_path / "r", 10**9)
    paths = []
    for n in range(5):
        found = filler.get_or_create(DIGEST if n % 2 else OTHER, key(n), writer(b"x" * 3000))
        assert found is not None
        paths.append(found[0])
        _age(found[0], 1000 - n)  # key(0) is the oldest
    cache = RenditionCache(tmp_path / "r", 10_000, touch_after=0, min_age=0)
    assert cache.lookup(OTHER, key(0)) is not None  # a use: key(0) is now the newest
    assert cache.size() == 15_000
    assert cache.evict() == 6000  # down to 90 % of the bound
    assert [p.exists() for p in paths] == [True, False, False, True, True]
    assert cache.size() == 9000
    assert cache.evict() == 0


def test_eviction_runs_by_itself_as_renditions_are_written(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10_000, touch_after=0, min_age=0)
    for n in range(20):
        found = cache.get_or_create(DIGEST, key(n), writer(b"y" * 1000))
        assert found is not None
        _age(found[0], 100 - n)
        assert cache.size() <= 10_000
    assert cache.lookup(DIGEST, key(19)) is not None and cache.lookup(DIGEST, key(0)) is None


def test_recently_used_renditions_are_never_evicted(tmp_path: Path) -> None:
    # A path just handed to a request stays while the response is sent.
    cache = RenditionCache(tmp_path / "r", 1000, touch_after=60, min_age=120)
    for n in range(5):
        cache.get_or_create(DIGEST, key(n), writer(b"z" * 1000))
    assert cache.evict() == 0 and cache.size() == 5000
    with pytest.raises(ValueError, match="min_age"):
        RenditionCache(tmp_path / "r", 1000, touch_after=60, min_age=10)


def test_forget_removes_one_blobs_renditions(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)
    for n in range(3):
        cache.get_or_create(DIGEST, key(n), writer(b"a"))
    kept = cache.get_or_create(OTHER, key(0), writer(b"b"))
    cache.forget(DIGEST)
    assert not cache.folder(DIGEST).exists()
    assert all(cache.lookup(DIGEST, key(n)) is None for n in range(3))
    assert kept is not None and cache.lookup(OTHER, key(0)) == kept
    cache.forget(DIGEST)  # twice is fine
    assert cache.get_or_create(DIGEST, key(0), writer(b"again")) is not None


def test_digests_and_keys_cannot_leave_the_cache(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9)
    for digest in ("../../etc", "", "x", DIGEST.upper(), DIGEST + "/.."):
        with pytest.raises(ValueError):
            cache.folder(digest)
    with pytest.raises(ValueError):
        cache.lookup(DIGEST, "../" + KEY)


def test_renditions_survive_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "cat.jpg"
    Image.new("RGB", (400, 300), (10, 200, 10)).save(source, "JPEG")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    first = TransformEngine(tmp_path / "cache")
    made = first.render(first.parse("w-100,h-100"), source, digest, "image/webp")
    assert made.content_type == "image/webp" and made.path is not None

    def no_rendering(*args: object, **kwargs: object) -> str:
        raise AssertionError("rendered again after a restart")

    monkeypatch.setattr(pipeline, "render", no_rendering)
    second = TransformEngine(tmp_path / "cache")
    again = second.render(second.parse("h-100,w-100"), source, digest, "image/webp")
    assert again == made


def test_the_engine_forgets_a_deleted_blob(tmp_path: Path) -> None:
    source = tmp_path / "cat.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(source, "PNG")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    engine = TransformEngine(tmp_path / "cache")
    made = [engine.render(engine.parse(t), source, digest, None) for t in ("w-10", "w-20")]
    assert all(r.path is not None and r.path.exists() for r in made)
    engine.forget(digest)
    assert not any(r.path is not None and r.path.exists() for r in made)


def test_check_finds_what_does_not_belong(tmp_path: Path) -> None:
    cache = RenditionCache(tmp_path / "r", 10**9, temp_grace=3600)
    cache.get_or_create(DIGEST, KEY, writer(b"ok"))
    cache.get_or_create(OTHER, KEY, writer(b"ok"))
    (tmp_path / "r" / ".evict.lock").touch()
    (tmp_path / "r" / "placeholder-200.png").touch()
    assert cache.check().problems == []
    assert cache.check(known_digests={DIGEST, OTHER}).problems == []
    folder = cache.folder(DIGEST)
    stale = folder / f".{KEY}.abc123.tmp"
    stale.write_bytes(b"crashed mid-write")
    _age(stale, 7200)
    fresh = folder / f".{key(1)}.def456.tmp"
    fresh.write_bytes(b"being written")
    (folder / "notes.txt").write_text("?")
    (tmp_path / "r" / "stray").write_text("?")
    (tmp_path / "r" / DIGEST[:2] / "not-a-digest").mkdir()
    report = cache.check(known_digests={DIGEST})
    assert sorted(report.problems) == sorted(
        [
            f"rendition left half-written: {stale}",
            f"unknown file in the rendition cache: {folder / 'notes.txt'}",
            f"unknown file in the rendition cache: {tmp_path / 'r' / 'stray'}",
            f"unknown file in the rendition cache: {tmp_path / 'r' / DIGEST[:2] / 'not-a-digest'}",
            f"renditions of a deleted blob: {OTHER}",
        ]
    )
    assert report.notes == ["1 renditions being written"] and report.repaired == []
    repaired = cache.check(known_digests={DIGEST}, repair=True)
    assert len(repaired.repaired) == 5
    after = cache.check(known_digests={DIGEST})
    assert after.problems == [] and after.notes == ["1 renditions being written"]
    assert fresh.exists() and cache.lookup(DIGEST, KEY) is not None
    assert cache.lookup(OTHER, KEY) is None
