"""The answer cache: served only at the same revision, bounded by bytes, least recent out."""

from __future__ import annotations

from mediavault.api.answer_cache import AnswerCache, CachedAnswer, RecentKeys


def test_an_answer_is_given_back_only_at_the_revision_it_was_made_at() -> None:
    cache: AnswerCache[CachedAnswer] = AnswerCache(max_bytes=1000)
    answer = CachedAnswer(7, b"[1]", "v1")
    cache.put("f", answer.revision, answer, len(answer.body))
    assert cache.get("f", 7) == answer
    assert cache.get("f", 8) is None
    assert cache.get("g", 7) is None
    newer = CachedAnswer(8, b"[1,2]", "v2")
    cache.put("f", newer.revision, newer, len(newer.body))
    assert cache.get("f", 7) is None and cache.get("f", 8) == newer
    assert cache.size_bytes == len(newer.body)


def test_the_bound_is_kept_by_dropping_the_least_recently_used() -> None:
    cache: AnswerCache[CachedAnswer] = AnswerCache(max_bytes=1000)
    for key in "abcd":
        cache.put(key, 1, CachedAnswer(1, b"x" * 100, key), len(b"x" * 100))
    cache.get("a", 1)  # a is now the most recent
    cache.put("e", 1, CachedAnswer(1, b"x" * 100, "e"), len(b"x" * 100))
    for key in "fghijk":
        cache.put(key, 1, CachedAnswer(1, b"x" * 100, key), len(b"x" * 100))
    assert cache.size_bytes <= 1000
    assert cache.get("b", 1) is None  # the least recent went first
    assert cache.get("a", 1) is not None and cache.get("k", 1) is not None


def test_an_answer_over_a_tenth_of_the_bound_is_not_kept() -> None:
    cache: AnswerCache[CachedAnswer] = AnswerCache(max_bytes=1000)
    cache.put("big", 1, CachedAnswer(1, b"x" * 101, "v"), len(b"x" * 101))
    assert cache.get("big", 1) is None and cache.size_bytes == 0


def test_get_many_answers_each_key_at_its_revision_and_keeps_the_asked_ones() -> None:
    cache: AnswerCache[bytes] = AnswerCache(max_bytes=1000)
    for revision, key in enumerate("abcdefghij"):
        cache.put(key, revision, key.encode(), 100)  # full: ten of 100 bytes
    assert cache.get_many([("a", 0), ("b", 9), ("x", 1), ("c", 2)]) == [b"a", None, None, b"c"]
    cache.put("k", 10, b"k", 100)  # "a" and "c" were asked for: "b" goes first
    assert cache.get_many([("a", 0), ("b", 1), ("c", 2), ("k", 10)]) == [b"a", None, b"c", b"k"]
    assert cache.get_many([]) == []


def test_recent_keys_remember_the_newest_ones() -> None:
    recent = RecentKeys(size=2)
    assert [recent.seen("a"), recent.seen("a"), recent.seen("b")] == [False, True, False]
    assert recent.seen("a")  # now the newest: "b" is the oldest
    assert not recent.seen("c")  # "b" leaves
    assert [recent.seen("a"), recent.seen("b")] == [True, False]
