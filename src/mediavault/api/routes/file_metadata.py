"""The metadata API (spec §4): `GET /v1/files/{fileId}/metadata` and metadata by URL, at
`/v1/metadata` (what the SDKs call) and `/v1/files/metadata` (what ImageKit's OpenAPI says)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, get
from litestar.params import FromPath

from mediavault.api import openapi
from mediavault.api.context import AppContext, context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.api.routes.delivery import _parse as parse_delivery_url
from mediavault.domain.models import delivered
from mediavault.errors import InvalidRequest, NotFound
from mediavault.services import delivery, file_metadata
from mediavault.storage.blobs import StagedBlob

NOT_FOUND = "The requested file does not exist or is inaccessible at this time."
MISSING_URL = "Your request is missing url parameter."
MAX_URL_CHARS = 8192


@get(
    "/v1/files/{file_id:str}/metadata",
    guards=MANAGEMENT_GUARDS,
    tags=["files"],
    summary="Metadata of a file's current version: size, format, EXIF, pHash, video facts",
    operation_class=documented(
        {200: ("The metadata.", openapi.METADATA)},
        errors={400: f"An invalid fileId; `{file_metadata.CORRUPT}`", 404: NOT_FOUND},
    ),
)
async def file_metadata_by_id(
    request: Request[Any, Any, Any], file_id: FromPath[str]
) -> Response[dict[str, Any]]:
    stores = context_of(request).stores
    try:
        body = await to_thread.run_sync(file_metadata.of_file, stores, file_id)
    except NotFound:
        raise NotFound(NOT_FOUND) from None
    return Response(body)


_URL_DOC = documented(
    {200: ("The metadata.", openapi.METADATA)},
    query=openapi.METADATA_QUERY,
    errors={
        400: f"`{MISSING_URL}`; `{file_metadata.NOT_ACCESSIBLE}` (with the download's reason); "
        f"`{file_metadata.CORRUPT}`",
        404: NOT_FOUND,
    },
)
_URL_DESCRIPTION = (
    "A URL of this server's delivery (plain, `ik-obj-version`, with a transformation: then the "
    "rendition) is resolved without HTTP. Any other URL is downloaded through upload by URL's "
    "guarded fetcher, with its limits (public addresses only, size, timeout)."
)


@get(
    "/v1/metadata",
    guards=MANAGEMENT_GUARDS,
    tags=["files"],
    summary="Metadata of a URL (the SDKs' path)",
    description=_URL_DESCRIPTION,
    operation_class=_URL_DOC,
    opt=openapi.accepts(openapi.METADATA_QUERY),
)
async def metadata_by_url(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(await _of_url(request))


@get(
    "/v1/files/metadata",
    guards=MANAGEMENT_GUARDS,
    tags=["files"],
    summary="Metadata of a URL (the path of ImageKit's OpenAPI document)",
    description=_URL_DESCRIPTION,
    operation_class=_URL_DOC,
    opt=openapi.accepts(openapi.METADATA_QUERY),
)
async def files_metadata_by_url(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(await _of_url(request))


async def _of_url(request: Request[Any, Any, Any]) -> dict[str, Any]:
    ctx = context_of(request)
    url = (request.query_params.get("url") or "").strip()
    if not url:
        raise InvalidRequest(MISSING_URL)
    if len(url) > MAX_URL_CHARS or "\x00" in url:
        raise InvalidRequest(f"{file_metadata.NOT_ACCESSIBLE} The URL is too long or invalid.")
    if file_metadata.is_own_url(url, ctx.urls.endpoint):
        return await to_thread.run_sync(_of_own_url, ctx, url)
    return await _of_remote_url(ctx, url)


def _of_own_url(ctx: AppContext, url: str) -> dict[str, Any]:
    """One of our delivery URLs: the version it names (or its rendition), read directly."""
    stores = ctx.stores
    prefix = ctx.settings.normalized_delivery_prefix
    scope = file_metadata.delivery_scope(url, ctx.urls.endpoint, prefix)
    try:
        parsed = parse_delivery_url(prefix, scope)  # type: ignore[arg-type]
        token = parsed.params.get("ik-obj-version")
        # The private key asks: unpublished versions are the owner's to read.
        item = delivery.resolve_record(stores, parsed.file_path, token)
    except NotFound:
        raise NotFound(NOT_FOUND) from None
    if parsed.transformation is not None:
        chain = stores.renditions.parse(parsed.transformation)
        if not chain.original:
            rendition = delivery.render(stores, delivered(item), chain, None)
            if rendition.path is not None:
                return file_metadata.of_rendition(rendition.path, stores.renditions.limits)
    return file_metadata.of_version(stores, item)


async def _of_remote_url(ctx: AppContext, url: str) -> dict[str, Any]:
    # Imported on first use, as upload by URL does: httpx and httpcore are 5 MB of a worker.
    from mediavault.media.fetch import fetch_to_staging

    settings, blobs = ctx.settings, ctx.stores.blobs
    try:
        staged = await fetch_to_staging(
            url,
            blobs,
            settings.max_upload_bytes,
            settings.url_upload_timeout_seconds,
            settings.url_upload_allow_private,
        )
    except InvalidRequest as exc:
        reason = exc.message.removeprefix("Your request contains invalid file parameter. ")
        raise InvalidRequest(f"{file_metadata.NOT_ACCESSIBLE} {reason}") from None
    try:
        return await to_thread.run_sync(_analyse_staged, ctx, staged)
    finally:
        blobs.discard(staged)


def _analyse_staged(ctx: AppContext, staged: StagedBlob) -> dict[str, Any]:
    stores = ctx.stores
    content = file_metadata.staged_content(staged)
    return file_metadata.analyse(
        lambda: stores.blobs.open_staged(staged), content, stores.renditions.limits
    )


route_handlers = [file_metadata_by_id, metadata_by_url, files_metadata_by_url]
