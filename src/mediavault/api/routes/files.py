"""File details, update, delete and bulk delete (spec §6.1 to 6.4)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, patch, post
from litestar.params import FromPath

from mediavault.api import forms
from mediavault.api.auth import require_private_key
from mediavault.api.context import context_of
from mediavault.serializers import file_object
from mediavault.services import files


@get("/{file_id:str}/details", summary="Get the current version of a file")
async def get_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> dict[str, Any]:
    ctx = context_of(request)
    item = await to_thread.run_sync(files.get_details, ctx.stores, file_id)
    return file_object(item, ctx.urls)


@patch("/{file_id:str}/details", summary="Update the current version's details or publication")
async def update_file_details(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> dict[str, Any]:
    ctx = context_of(request)
    update = forms.details_update(await request.body())
    item = await to_thread.run_sync(files.update_details, ctx.stores, file_id, update)
    return file_object(item, ctx.urls)


@delete("/{file_id:str}", status_code=204, summary="Delete a file with all its versions")
async def delete_file(request: Request[Any, Any, Any], file_id: FromPath[str]) -> None:
    await to_thread.run_sync(files.delete_file, context_of(request).stores, file_id)


@post("/batch/deleteByFileIds", status_code=200, summary="Delete several files at once")
async def bulk_delete_files(request: Request[Any, Any, Any]) -> dict[str, Any]:
    file_ids = forms.bulk_file_ids(await request.body())
    deleted = await to_thread.run_sync(files.bulk_delete, context_of(request).stores, file_ids)
    return {"successfullyDeletedFileIds": deleted}


router = Router(
    path="/v1/files",
    guards=[require_private_key],
    tags=["files"],
    route_handlers=[get_file_details, update_file_details, delete_file, bulk_delete_files],
)
