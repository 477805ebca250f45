"""File details, update, delete and bulk delete (spec §6.1 to 6.4)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, patch, post
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of, run_lookup
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.serializers import file_object
from mediavault.services import files


@get(
    "/{file_id:str}/details",
    summary="Get the current version of a file",
    operation_class=documented({200: ("The current version.", openapi.FILE)}),
)
async def get_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> dict[str, Any]:
    ctx = context_of(request)
    item = await run_lookup(ctx, files.get_details, ctx.stores, file_id)
    return file_object(item, ctx.urls)


@patch(
    "/{file_id:str}/details",
    summary="Update the current version's details or publication",
    operation_class=documented(
        {200: ("The updated version.", openapi.FILE)}, body=openapi.DETAILS_UPDATE
    ),
)
async def update_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> dict[str, Any]:
    ctx = context_of(request)
    update = forms.details_update(await request.body())
    item = await to_thread.run_sync(files.update_details, ctx.stores, file_id, update)
    return file_object(item, ctx.urls)


@delete(
    "/{file_id:str}",
    status_code=204,
    summary="Delete a file with all its versions",
    operation_class=documented({204: ("Deleted.", None)}),
)
async def delete_file(request: Request[Any, Any, Any], file_id: FromPath[str]) -> None:
    await to_thread.run_sync(files.delete_file, context_of(request).stores, file_id)


@post(
    "/batch/deleteByFileIds",
    status_code=200,
    summary="Delete several files at once",
    operation_class=documented(
        {200: ("All were deleted.", openapi.BULK_DELETE_RESULT)}, body=openapi.FILE_IDS
    ),
)
async def bulk_delete_files(request: Request[Any, Any, Any]) -> dict[str, Any]:
    file_ids = forms.bulk_file_ids(await request.body())
    deleted = await to_thread.run_sync(files.bulk_delete, context_of(request).stores, file_ids)
    return {"successfullyDeletedFileIds": deleted}


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["files"],
    route_handlers=[get_file_details, update_file_details, delete_file, bulk_delete_files],
)
