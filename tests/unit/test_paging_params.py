"""Query parameters of the history and trash routes: what each accepts, and the 400s."""

from __future__ import annotations

import pytest

from mediavault.api import paging
from mediavault.errors import InvalidRequest


def test_limit_defaults_and_bounds() -> None:
    assert paging.limit({}, 100) == 100
    assert paging.limit({"limit": "1"}, 100) == 1
    assert paging.limit({"limit": "1000"}, 100) == 1000
    for bad in ("0", "-1", "1001", "x", "", "1.5"):
        with pytest.raises(InvalidRequest):
            paging.limit({"limit": bad}, 100)


def test_the_cursor_is_a_positive_decimal_as_the_server_writes_it() -> None:
    assert paging.cursor({}) is None
    assert paging.cursor({"after": "42"}) == 42
    assert paging.cursor({"after": "9" * 18}) == int("9" * 18)
    for bad in ("0", "-3", "042", "abc", "", "1e3", "9" * 19, " 4"):
        with pytest.raises(InvalidRequest, match="invalid after parameter"):
            paging.cursor({"after": bad})


def test_skip_and_path() -> None:
    assert paging.skip({}) == 0 and paging.skip({"skip": "7"}) == 7
    assert paging.skip({"skip": str(2**70)}) == 2**62
    with pytest.raises(InvalidRequest):
        paging.skip({"skip": "-1"})
    assert paging.folder({"path": "/a"}) == "/a" and paging.folder({}) is None
    with pytest.raises(InvalidRequest):
        paging.folder({"path": "/a\x00"})
