"""The console's file page: preview, details, the version timeline, comparison and history,
and the changes made from it (restore, delete, pin, details, delete the file)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from mediavault.api.context import AppContext, context_of
from mediavault.domain.models import FileVersion
from mediavault.domain.versioning import DetailsUpdate
from mediavault.errors import InvalidRequest, MediaVaultError
from mediavault.serializers import comparison_object, file_event_object
from mediavault.services import compare, files, history, pins, versions
from mediavault.web import views
from mediavault.web.console import (
    back,
    change,
    common,
    file_url,
    library_url,
    media_urls,
    page_session,
    run,
    safe_folder,
)

HISTORY_EVENTS = 50


@get("/files/{file_id:str}", include_in_schema=False)
async def file_page(request: Request[Any, Any, Any], file_id: FromPath[str]) -> Template:
    found = page_session(request)
    ctx = context_of(request)
    picked = request.query_params.getall("compare", [])
    all_versions, pinned, page = await run(_load_file, ctx, file_id)
    urls = media_urls(ctx)
    current = next(item for item in all_versions if item.version.is_current)
    names = {item.version.id: item.version.name for item in all_versions}
    timeline = sorted(all_versions, key=lambda item: item.version.number, reverse=True)
    comparison = None
    if len(picked) == 2:
        comparison = await _comparison(ctx, file_id, picked, urls)
    elif picked:  # without the script, Compare can be pressed with any number ticked
        comparison = {"error": "Select exactly two versions to compare."}
    return Template(
        "file.html",
        context={
            **common(request, found),
            "file": current.file,
            "current": views.version_item(current, urls, pinned),
            "preview": views.preview_kind(current),
            "public_url": ctx.urls.url(current),
            "tags": ", ".join(current.version.metadata.tags or []),
            "custom_metadata": json.dumps(current.version.metadata.custom_metadata or {}, indent=2),
            "versions": [views.version_item(item, urls, pinned) for item in timeline],
            "crumbs": views.breadcrumbs(current.file.folder_path),
            "comparison": comparison,
            "picked": picked,
            "events": [_event(event, names) for event in page.events],
        },
    )


def _load_file(ctx: AppContext, file_id: str) -> tuple[list[FileVersion], set[str], Any]:
    found = versions.list_versions(ctx.stores, file_id)
    pinned = pins.pinned_version_ids(ctx.stores, file_id)
    page = history.file_history(ctx.stores, file_id, HISTORY_EVENTS, None)
    return found, pinned, page


def _event(event: Any, names: dict[str, str]) -> dict[str, Any]:
    body = file_event_object(event)
    version = names.get(event.version_id, "a deleted version") if event.version_id else None
    return {**body, "when": views.when(event.at), "version": version}


async def _comparison(
    ctx: AppContext, file_id: str, picked: list[str], urls: views.MediaUrls
) -> dict[str, Any]:
    try:
        result = await run(compare.compare_versions, ctx.stores, file_id, picked[0], picked[1])
    except MediaVaultError as exc:
        return {"error": exc.message}
    # Older on the left, whichever order they were ticked in.
    if result.before.version.number > result.after.version.number:
        result = compare.Comparison(result.after, result.before, _swapped(result.image))
    body = comparison_object(result, ctx.urls)
    return {
        "before": views.version_item(result.before, urls, set()),
        "after": views.version_item(result.after, urls, set()),
        "both_images": all(
            views.preview_kind(item) == "image" for item in (result.before, result.after)
        ),
        "same_content": body["sameContent"],
        "changed": [
            (name, _shown(change["from"]), _shown(change["to"]))
            for name, change in body["changed"].items()
        ],
        "image": body["image"],
    }


def _swapped(image: Any) -> Any:
    if image is None:
        return None
    return dataclasses.replace(image, from_size=image.to_size, to_size=image.from_size)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


@post("/files/{file_id:str}/versions/{version_id:str}/restore", include_in_schema=False)
async def restore_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> Redirect:
    await change(request)
    try:
        item = await run(versions.restore_version, context_of(request).stores, file_id, version_id)
    except MediaVaultError as exc:
        return back(file_url(file_id), error=exc.message)
    return back(file_url(file_id), message=f"{item.version.name} restored; it is current.")


@post("/files/{file_id:str}/versions/{version_id:str}/delete", include_in_schema=False)
async def delete_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> Redirect:
    fields = await change(request)
    try:
        await run(versions.delete_version, context_of(request).stores, file_id, version_id)
    except MediaVaultError as exc:
        return back(file_url(file_id), error=exc.message)
    label = fields.get("label") or "The version"
    return back(file_url(file_id), message=f"{label} deleted.")


@post("/files/{file_id:str}/versions/{version_id:str}/pin", include_in_schema=False)
async def pin_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> Redirect:
    fields = await change(request)
    pinned = fields.get("pinned") == "true"
    stores = context_of(request).stores
    try:
        await run(pins.set_pinned, stores, file_id, version_id, pinned)
    except MediaVaultError as exc:
        return back(file_url(file_id), error=exc.message)
    return back(file_url(file_id), message="Pinned." if pinned else "Unpinned.")


@post("/files/{file_id:str}/details", include_in_schema=False)
async def update_details(request: Request[Any, Any, Any], file_id: FromPath[str]) -> Redirect:
    fields = await change(request)
    tags = [t.strip() for t in (fields.get("tags") or "").split(",") if t.strip()]
    try:
        metadata = json.loads(fields.get("customMetadata") or "{}")
        if not isinstance(metadata, dict):
            raise InvalidRequest("Custom metadata must be a JSON object.")
        update = DetailsUpdate(tags=tags or None, custom_metadata=metadata)
        await run(files.update_details, context_of(request).stores, file_id, update)
    except json.JSONDecodeError:
        return back(file_url(file_id), error="Custom metadata must be a JSON object.")
    except MediaVaultError as exc:
        return back(file_url(file_id), error=exc.message)
    return back(file_url(file_id), message="Tags and custom metadata saved.")


@post("/files/{file_id:str}/delete", include_in_schema=False)
async def delete_file(request: Request[Any, Any, Any], file_id: FromPath[str]) -> Redirect:
    fields = await change(request)
    folder = safe_folder(fields.get("folder") or "/")
    try:
        await run(files.delete_file, context_of(request).stores, file_id)
    except MediaVaultError as exc:
        return back(file_url(file_id), error=exc.message)
    return back(library_url(folder), message="File deleted.")


HANDLERS = [file_page, restore_version, delete_version, pin_version, update_details, delete_file]
