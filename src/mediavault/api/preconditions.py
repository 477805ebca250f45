"""The conditional headers of the write routes, and the ETag of answers that describe a file."""

from __future__ import annotations

from typing import Any

from litestar import Request

from mediavault.domain.preconditions import entity_tag, parse_if_match, parse_if_none_match


def _header(request: Request[Any, Any, Any], name: str) -> str | None:
    # Several fields of one name are one comma-separated list (RFC 9110 5.3): refused as such.
    values = request.headers.getall(name, [])
    return ", ".join(values) if values else None


def if_match(request: Request[Any, Any, Any]) -> str | None:
    return parse_if_match(_header(request, "if-match"))


def if_none_match(request: Request[Any, Any, Any]) -> bool:
    return parse_if_none_match(_header(request, "if-none-match"))


def etag(current_version_id: str) -> dict[str, str]:
    """Response headers naming the file's current version."""
    return {"etag": entity_tag(current_version_id)}
