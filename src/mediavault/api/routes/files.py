"""File details, update, delete and bulk delete (spec §6.1 to 6.4)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of, run_lookup
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.openapi import documented
from mediavault.api.preconditions import etag, if_match
from mediavault.serializers import file_object
from mediavault.services import files


@get(
    "/{file_id:str}/details",
    summary="Get the current version of a file",
    operation_class=documented({200: ("The current version.", openapi.FILE)}, etag=True),
)
async def get_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> Response[dict[str, Any]]:
    ctx = context_of(request)
    item = await run_lookup(ctx, files.get_details, ctx.stores, file_id)
    return Response(file_object(item, ctx.urls), headers=etag(item.version.id))


@patch(
    "/{file_id:str}/details",
    summary="Update the current version's details or publication",
    operation_class=documented(
        {200: ("The updated version.", openapi.FILE)},
        body=openapi.DETAILS_UPDATE,
        etag=True,
        if_match=True,
    ),
)
async def update_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> Response[dict[str, Any]]:
    ctx = context_of(request)
    update = forms.details_update(await request.body())
    edit, expected = files.update_details, if_match(request)
    item = await to_thread.run_sync(edit, ctx.stores, file_id, update, expected)
    return Response(file_object(item, ctx.urls), headers=etag(item.version.id))


@delete(
    "/{file_id:str}",
    status_code=204,
    summary="Delete a file with all its versions",
    operation_class=documented({204: ("Deleted.", None)}, if_match=True),
)
async def delete_file(request: Request[Any, Any, Any], file_id: FromPath[str]) -> None:
    expected = if_match(request)
    await to_thread.run_sync(files.delete_file, context_of(request).stores, file_id, expected)


@post(
    "/batch/deleteByFileIds",
    status_code=200,
    summary="Delete several files at once",
    operation_class=documented(
        {200: ("All were deleted.", openapi.BULK_DELETE_RESULT)},
        body=openapi.FILE_IDS,
        idempotent=True,
    ),
)
async def bulk_delete_files(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        file_ids = forms.bulk_file_ids(await request.body())
        stores = context_of(request).stores
        deleted = await to_thread.run_sync(files.bulk_delete, stores, file_ids)
        return Response({"successfullyDeletedFileIds": deleted})

    return await idempotently(request, run)


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["files"],
    route_handlers=[get_file_details, update_file_details, delete_file, bulk_delete_files],
)
