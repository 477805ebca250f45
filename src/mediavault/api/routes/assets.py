"""GET /v1/files (list and search) and the folder endpoints."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import MediaType, Request, Response, Router, delete, get, post

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.listing_params import list_query
from mediavault.api.openapi import documented
from mediavault.domain.models import Folder
from mediavault.serializers import file_json, folder_json
from mediavault.services import assets
from mediavault.storage.listing import Listed


@get(
    "/v1/files",
    summary="List and search files, file versions and folders",
    tags=["search"],
    operation_class=documented(
        {200: ("The matching assets.", openapi.ASSET_LIST)}, query=openapi.LIST_ASSETS_QUERY
    ),
    opt=openapi.accepts(openapi.LIST_ASSETS_QUERY),
)
async def list_assets(request: Request[Any, Any, Any]) -> Response[bytes]:
    ctx = context_of(request)
    query = list_query(request.query_params)
    kept = ctx.listed
    # The answer is put together from each result's JSON. A listing asked for again (a folder
    # browsed, a search polled) reads the page as ids and revisions first and encodes only
    # the File objects that changed since; a first one reads its records at once, as the
    # ids alone would be wasted work (1,000 results: the records were most of the time).
    # Seen by its parameters as sent, in any order: a parsed query holds the time a relative
    # date (`createdAt > "7d"`) was read at, and would never be seen again. (Either way this
    # only picks how the page is read; the answer is the same.)
    asked = tuple(sorted(request.query_params.multi_items()))
    reuse = kept.get_many if ctx.listings.seen(asked) else None
    found = await to_thread.run_sync(assets.list_assets_reusing, ctx.stores, query, reuse)
    # Commas between the pieces, so that one join makes the answer: 700 KB for a folder of
    # 1,000, copied once.
    parts: list[bytes] = [b"["]
    made: list[tuple[str, int, bytes, int]] = []
    for entry in found:
        if isinstance(entry, Listed):
            body = file_json(entry.item, ctx.urls)
            made.append((entry.key, entry.revision, body, len(body)))
            parts.append(body)
        elif isinstance(entry, Folder):
            parts.append(folder_json(entry))
        else:
            parts.append(entry)  # the File object's JSON, kept at its file's revision
        parts.append(b",")
    kept.put_many(made)
    parts[-1] = b"]" if found else b"[]"
    return Response(b"".join(parts), media_type=MediaType.JSON)


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
