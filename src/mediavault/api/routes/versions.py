"""The file-version endpoints: list, get, delete, restore (spec §4)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, delete, get, put
from litestar.params import FromPath

from mediavault.api import openapi
from mediavault.api.context import context_of, run_lookup
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.api.preconditions import etag, if_match
from mediavault.api.routes.retention import include_pinned
from mediavault.serializers import file_object
from mediavault.services import versions


@get(
    "/{file_id:str}/versions",
    summary="List all versions of a file, current first",
    operation_class=documented(
        {200: ("Every version.", openapi.FILE_WITH_PIN_LIST)},
        etag=True,
        query=openapi.INCLUDE_QUERY,
    ),
    opt=openapi.accepts(openapi.INCLUDE_QUERY),
)
async def list_file_versions(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> Response[list[dict[str, Any]]]:
    ctx = context_of(request)
    items = await run_lookup(ctx, versions.list_versions, ctx.stores, file_id)
    body = [file_object(item, ctx.urls) for item in items]
    await include_pinned(request, ctx, file_id, body)
    return Response(body, headers=etag(items[0].version.id))  # current first


@get(
    "/{file_id:str}/versions/{version_id:str}",
    summary="Get one version of a file",
    operation_class=documented(
        {200: ("The version.", openapi.FILE_WITH_PIN)}, etag=True, query=openapi.INCLUDE_QUERY
    ),
    opt=openapi.accepts(openapi.INCLUDE_QUERY),
)
async def get_file_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> Response[dict[str, Any]]:
    ctx = context_of(request)
    lookup = versions.get_version_and_current
    item, current_id = await run_lookup(ctx, lookup, ctx.stores, file_id, version_id)
    body = file_object(item, ctx.urls)
    await include_pinned(request, ctx, file_id, [body])
    # The file's ETag: its current version, whichever version was asked for.
    return Response(body, headers=etag(current_id))


@delete(
    "/{file_id:str}/versions/{version_id:str}",
    status_code=204,
    summary="Delete a non-current version",
    operation_class=documented({204: ("Deleted.", None)}, if_match=True),
)
async def delete_file_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> None:
    ctx = context_of(request)
    expected = if_match(request)
    await to_thread.run_sync(versions.delete_version, ctx.stores, file_id, version_id, expected)


@put(
    "/{file_id:str}/versions/{version_id:str}/restore",
    status_code=200,
    summary="Make an older version the current one",
    operation_class=documented(
        {200: ("The new current version.", openapi.FILE)}, etag=True, if_match=True
    ),
)
async def restore_file_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> Response[dict[str, Any]]:
    ctx = context_of(request)
    restore, expected = versions.restore_version, if_match(request)
    item = await to_thread.run_sync(restore, ctx.stores, file_id, version_id, expected)
    return Response(file_object(item, ctx.urls), headers=etag(item.version.id))


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["versions"],
    route_handlers=[
        list_file_versions,
        get_file_version,
        delete_file_version,
        restore_file_version,
    ],
)
