"""The trash (beyond ImageKit): list deleted files, restore one, purge one."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, post
from litestar.params import FromPath

from mediavault.api import forms, openapi, paging
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.errors import InvalidRequest
from mediavault.serializers import file_object, trashed_file_object
from mediavault.services import trash


@get(
    "/",
    summary="Files in the trash, newest deletion first",
    operation_class=documented(
        {200: ("The trashed files.", openapi.TRASH_LIST)}, query=openapi.TRASH_QUERY
    ),
    opt=openapi.accepts(openapi.TRASH_QUERY),
)
async def list_trash(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    ctx = context_of(request)
    params = request.query_params
    path, skip, limit = paging.folder(params), paging.skip(params), paging.limit(params, 1000)
    found = await to_thread.run_sync(trash.list_trash, ctx.stores, path, skip, limit)
    return [trashed_file_object(item, ctx.urls) for item in found]


@post(
    "/{file_id:str}/restore",
    status_code=200,
    summary="Put a trashed file back, with every version",
    operation_class=documented(
        {200: ("The restored file's current version.", openapi.FILE)},
        body=openapi.TRASH_RESTORE,
        errors={409: "A file already exists at the path (give another `filePath`)."},
    ),
)
async def restore_from_trash(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> dict[str, Any]:
    ctx = context_of(request)
    file_path = _file_path(await request.body())
    item = await to_thread.run_sync(trash.restore, ctx.stores, file_id, file_path)
    return file_object(item, ctx.urls)


@delete(
    "/{file_id:str}",
    status_code=204,
    summary="Delete a trashed file for good, now",
    operation_class=documented({204: ("Purged.", None)}),
)
async def purge_from_trash(request: Request[Any, Any, Any], file_id: FromPath[str]) -> None:
    await to_thread.run_sync(trash.purge, context_of(request).stores, file_id)


def _file_path(body: bytes) -> str | None:
    """The optional body: nothing, or {"filePath": "/new/path.jpg"}."""
    if not body.strip():
        return None
    value = forms.json_object(body).get("filePath")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("Your request contains invalid filePath parameter.")
    return value


router = Router(
    path="/v1/trash",
    guards=MANAGEMENT_GUARDS,
    tags=["trash"],
    route_handlers=[list_trash, restore_from_trash, purge_from_trash],
)
