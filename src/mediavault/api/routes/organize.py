"""Copy, move, rename and bulk tag edits."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, post, put
from litestar.openapi.spec import Operation, Schema

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.openapi import documented
from mediavault.api.preconditions import if_match
from mediavault.services import organize, tags


@post(
    "/copy",
    status_code=204,
    summary="Copy a file, optionally with all its versions",
    operation_class=documented(
        {204: ("Copied.", None)}, body=openapi.COPY, if_match=True, idempotent=True
    ),
)
async def copy_file(request: Request[Any, Any, Any]) -> Response[None]:
    async def run() -> Response[None]:
        body = forms.json_object(await request.body())
        source = forms.required_string(body, "sourceFilePath")
        destination = forms.required_string(body, "destinationPath")
        include = forms.optional_boolean(body, "includeFileVersions", default=False)
        stores, expected = context_of(request).stores, if_match(request)
        copy = organize.copy_file
        await to_thread.run_sync(copy, stores, source, destination, include, expected)
        return Response(None, status_code=204)

    return await idempotently(request, run)


@post(
    "/move",
    status_code=204,
    summary="Move a file with all its versions",
    operation_class=documented(
        {204: ("Moved.", None)}, body=openapi.MOVE, if_match=True, idempotent=True
    ),
)
async def move_file(request: Request[Any, Any, Any]) -> Response[None]:
    async def run() -> Response[None]:
        body = forms.json_object(await request.body())
        source = forms.required_string(body, "sourceFilePath")
        destination = forms.required_string(body, "destinationPath")
        stores, expected = context_of(request).stores, if_match(request)
        await to_thread.run_sync(organize.move_file, stores, source, destination, expected)
        return Response(None, status_code=204)

    return await idempotently(request, run)


@put(
    "/rename",
    status_code=200,
    summary="Rename a file and all its versions",
    operation_class=documented(
        {200: ("Renamed.", openapi.RENAME_RESULT)},
        body=openapi.RENAME,
        if_match=True,
        idempotent=True,
    ),
)
async def rename_file(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        file_path = forms.required_string(body, "filePath")
        new_name = forms.required_string(body, "newFileName")
        purge = forms.optional_boolean(body, "purgeCache", default=False)
        ctx, expected = context_of(request), if_match(request)
        rename = organize.rename_file
        renamed = await to_thread.run_sync(rename, ctx.stores, file_path, new_name, expected)
        if not purge:
            return Response({})
        # The old URL, purged as POST /v1/files/purge would (services.purge).
        old_path = renamed.folder_path + file_path.strip().rpartition("/")[2]
        purge_after = ctx.purges.after_file_rename
        purge_id = await to_thread.run_sync(purge_after, old_path, renamed.file_path)
        return Response({"purgeRequestId": purge_id})

    return await idempotently(request, run)


def _bulk_operation(body: Schema) -> type[Operation]:
    return documented(
        {
            200: ("Every file was updated.", openapi.BULK_TAGS_RESULT),
            207: ("Some files were updated; `errors` says why the others were not.",
                  openapi.BULK_TAGS_RESULT),
        },
        body=body,
        idempotent=True,
    )  # fmt: skip


async def _bulk(request: Request[Any, Any, Any], edit: Any, tags_field: str) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        file_ids = forms.file_ids(body)
        values = forms.string_list(body, tags_field)
        result = await to_thread.run_sync(edit, context_of(request).stores, file_ids, values)
        payload: dict[str, Any] = {"successfullyUpdatedFileIds": result.updated}
        if result.errors:
            payload["errors"] = result.errors
        return Response(payload, status_code=207 if result.errors else 200)

    return await idempotently(request, run)


@post(
    "/addTags",
    status_code=200,
    summary="Add tags to several files",
    operation_class=_bulk_operation(openapi.TAGS),
)
async def add_tags(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _bulk(request, tags.add_tags, "tags")


@post(
    "/removeTags",
    status_code=200,
    summary="Remove tags from several files",
    operation_class=_bulk_operation(openapi.TAGS),
)
async def remove_tags(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _bulk(request, tags.remove_tags, "tags")


@post(
    "/removeAITags",
    status_code=200,
    summary="Remove AI tags from several files",
    operation_class=_bulk_operation(openapi.AI_TAGS),
)
async def remove_ai_tags(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _bulk(request, tags.remove_ai_tags, "AITags")


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["organize"],
    route_handlers=[copy_file, move_file, rename_file, add_tags, remove_tags, remove_ai_tags],
)
