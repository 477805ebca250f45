"""GET /v1/files (list and search) and the folder endpoints."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, delete, get, post

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.listing_params import list_query
from mediavault.api.openapi import documented
from mediavault.domain.models import Folder
from mediavault.serializers import file_struct, folder_object
from mediavault.services import assets


@get(
    "/v1/files",
    summary="List and search files, file versions and folders",
    tags=["search"],
    operation_class=documented(
        {200: ("The matching assets.", openapi.ASSET_LIST)}, query=openapi.LIST_ASSETS_QUERY
    ),
    opt=openapi.accepts(openapi.LIST_ASSETS_QUERY),
)
async def list_assets(request: Request[Any, Any, Any]) -> list[Any]:
    ctx = context_of(request)
    query = list_query(request.query_params)
    items = await to_thread.run_sync(assets.list_assets, ctx.stores, query)
    # File objects as msgspec Structs, which Litestar's encoder writes directly: the same
    # bytes as their dicts, for half the work (1,000 results: 8 ms -> 4, profiled).
    return [
        folder_object(item) if isinstance(item, Folder) else file_struct(item, ctx.urls)
        for item in items
    ]


@post(
    "/v1/folder",
    status_code=201,
    summary="Create a folder",
    tags=["folders"],
    operation_class=documented(
        {201: ("Created, or already there.", openapi.EMPTY)},
        body=openapi.FOLDER_CREATE,
        idempotent=True,
    ),
)
async def create_folder(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        name = forms.required_string(body, "folderName")
        parent = forms.required_string(body, "parentFolderPath")
        await to_thread.run_sync(assets.create_folder, context_of(request).stores, name, parent)
        return Response({}, status_code=201)

    return await idempotently(request, run)


@delete(
    "/v1/folder",
    status_code=204,
    summary="Delete a folder and everything in it",
    tags=["folders"],
    operation_class=documented(
        {204: ("Deleted.", None)}, body=openapi.FOLDER_DELETE, idempotent=True
    ),
)
async def delete_folder(request: Request[Any, Any, Any]) -> Response[None]:
    async def run() -> Response[None]:
        body = forms.json_object(await request.body())
        folder_path = forms.required_string(body, "folderPath")
        await to_thread.run_sync(assets.delete_folder, context_of(request).stores, folder_path)
        return Response(None, status_code=204)

    return await idempotently(request, run)


router = Router(
    path="/",
    guards=MANAGEMENT_GUARDS,
    route_handlers=[list_assets, create_folder, delete_folder],
)
