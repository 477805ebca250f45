"""Cache purge (spec §5): purge a delivery URL; the purge's status."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.errors import InvalidPurgeUrl


@post(
    "/purge",
    status_code=201,
    summary="Purge the cached renditions of a URL (a trailing * purges a prefix)",
    operation_class=documented(
        {201: ("The purge is recorded.", openapi.PURGE_CREATED)}, body=openapi.PURGE
    ),
)
async def purge_url(request: Request[Any, Any, Any]) -> Response[Any]:
    body = forms.json_object(await request.body())
    url = body.get("url")
    if not isinstance(url, str):
        raise InvalidPurgeUrl()
    request_id = await to_thread.run_sync(context_of(request).purges.create, url)
    return Response({"requestId": request_id}, status_code=201)


@get(
    "/purge/{request_id:str}",
    summary="A purge's status",
    operation_class=documented({200: ("The status.", openapi.PURGE_STATUS)}),
)
async def purge_status(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> dict[str, Any]:
    status = await to_thread.run_sync(context_of(request).purges.status, request_id)
    return {"status": status}


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["cache"],
    route_handlers=[purge_url, purge_status],
)
