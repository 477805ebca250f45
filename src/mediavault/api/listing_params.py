"""Query parameters of GET /v1/files, checked with ImageKit's messages (spec §6.5)."""

from __future__ import annotations

from collections.abc import Mapping

from mediavault.domain.names import normalize_folder
from mediavault.domain.search import parse
from mediavault.errors import InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.storage.listing import ListQuery

_KINDS = {
    "file": frozenset({"file"}),
    "file-version": frozenset({"file-version"}),
    "folder": frozenset({"folder"}),
    "all": frozenset({"file", "folder"}),  # `all` never includes versions
}
SORT_KEYS = frozenset(
    {
        "NAME", "CREATED", "UPDATED", "HEIGHT", "WIDTH", "SIZE",
        "RELEVANCE", "DURATION", "ORIGINAL_CREATION_DATE",
    }
)  # fmt: skip
MAX_LIMIT = 1000
MAX_SKIP = 2**62


def list_query(params: Mapping[str, str]) -> ListQuery:
    for name, value in params.items():
        if "\x00" in value:
            # PostgreSQL cannot compare text with a NUL in it; nothing stored has one.
            raise InvalidRequest(f"Your request contains invalid {name} parameter.")
    kind = params.get("type", "file")
    if kind not in _KINDS:
        raise InvalidRequest(
            "Your request contains invalid value for type parameter. "
            "Please provide one of the following: file, file-version, folder, all."
        )
    sort = params.get("sort", "ASC_CREATED")
    direction, _, key = sort.partition("_")
    if direction not in ("ASC", "DESC") or key not in SORT_KEYS:
        raise InvalidRequest("Your request contains invalid value for sort parameters.")
    file_type = params.get("fileType", "all")
    if file_type not in ("all", "image", "non-image"):
        raise InvalidRequest(
            "Your request contains invalid value for fileType parameter. "
            "Please provide one of the following: all, image, non-image."
        )
    skip = _integer(params.get("skip", "0"))
    if skip is None or skip < 0:
        raise InvalidRequest(
            "The value of skip parameter should be greater than or equal to 0. "
            f"Value sent is {params.get('skip')}."
        )
    # Beyond any possible count the answer is empty anyway; the database's integers are not.
    skip = min(skip, MAX_SKIP)
    limit = _integer(params.get("limit", str(MAX_LIMIT)))
    if limit is None or limit < 1:
        raise InvalidRequest(
            f"Minimum value of limit parameter is 1. Value sent is {params.get('limit')}."
        )
    if limit > MAX_LIMIT:
        raise InvalidRequest(
            f"Maximum value of limit parameter is {MAX_LIMIT}. Value sent is {limit}."
        )
    search_text = params.get("searchQuery")
    path = params.get("path")
    tags = tuple(t.strip() for t in (params.get("tags") or "").split(",") if t.strip())
    return ListQuery(
        kinds=_KINDS[kind],
        search=parse(search_text, now_ms()) if search_text else None,
        path=normalize_folder(path) if path else None,
        file_type=file_type,
        sort_key=key,
        descending=direction == "DESC",
        skip=skip,
        limit=limit,
        # With a searchQuery, the legacy type/tags/name parameters are ignored.
        tags=() if search_text else tags,
        name=None if search_text else params.get("name") or None,
    )


def _integer(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None
