"""Query parameters of the paged routes beyond ImageKit (history, trash), with 400s in
ImageKit's wording where its list route has one."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mediavault.errors import InvalidRequest

MAX_LIMIT = 1000
_CURSOR = re.compile(r"[1-9][0-9]{0,17}")


def limit(params: Mapping[str, str], default: int) -> int:
    raw = params.get("limit")
    if raw is None:
        return default
    value = _integer(raw)
    if value is None or value < 1:
        raise InvalidRequest(f"Minimum value of limit parameter is 1. Value sent is {raw}.")
    if value > MAX_LIMIT:
        raise InvalidRequest(
            f"Maximum value of limit parameter is {MAX_LIMIT}. Value sent is {value}."
        )
    return value


def skip(params: Mapping[str, str]) -> int:
    raw = params.get("skip", "0")
    value = _integer(raw)
    if value is None or value < 0:
        raise InvalidRequest(
            "The value of skip parameter should be greater than or equal to 0. "
            f"Value sent is {raw}."
        )
    return min(value, 2**62)  # beyond any count the page is empty; the database's ints are not


def cursor(params: Mapping[str, str]) -> int | None:
    """`after`: the `next` of an earlier page, as the server wrote it."""
    raw = params.get("after")
    if raw is None:
        return None
    if not _CURSOR.fullmatch(raw):
        raise InvalidRequest("Your request contains invalid after parameter.")
    return int(raw)


def folder(params: Mapping[str, str]) -> str | None:
    raw = params.get("path")
    if raw is not None and "\x00" in raw:
        raise InvalidRequest("Your request contains invalid path parameter.")
    return raw


def _integer(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None
