"""Guards every management and upload route runs before its handler reads the body."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from mediavault.api.auth import require_private_key
from mediavault.errors import InvalidRequest

QUERY_OPT = "query"


async def reject_unknown_query(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A misspelt parameter (`serchQuery`) would otherwise be ignored and list everything."""
    accepted: frozenset[str] = handler.opt.get(QUERY_OPT, frozenset())
    unknown = sorted(set(connection.query_params) - accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise InvalidRequest(
            f"Your request contains unknown query parameters: {', '.join(unknown)}. "
            f"This endpoint accepts: {allowed}."
        )


async def management_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Both checks in one guard: Litestar copies the route handler for every guard it runs.

    Authentication first, so that a caller without the key learns nothing about the route.
    """
    await require_private_key(connection, handler)
    await reject_unknown_query(connection, handler)


MANAGEMENT_GUARDS = [management_guard]


async def upload_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The upload routes: a request with an Authorization header must carry the private key,
    checked before the body is read; one without may still prove itself from the form (a
    browser's single-use signature or JWT), which the route checks once it has read it."""
    content_type = connection.headers.get("content-type", "")
    if connection.headers.get("authorization") is not None or not content_type.lower().startswith(
        "multipart/form-data"
    ):
        # A browser's upload is always a multipart form: anything else needs the key.
        await require_private_key(connection, handler)
    await reject_unknown_query(connection, handler)
