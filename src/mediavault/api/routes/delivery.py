"""Delivery of version bytes by URL: `<prefix>/<filePath>`, `?ik-obj-version=`, thumbnails.

A raw ASGI handler on the hot path: it answers with Starlette's FileResponse, which handles
HEAD, Range (206) and zero-copy sending through the server's pathsend extension.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from anyio import to_thread
from litestar.types import Receive, Scope, Send
from starlette.responses import FileResponse, JSONResponse, Response

from mediavault.api.context import AppContext
from mediavault.api.errors import answer_for
from mediavault.api.ranges import streamed_blob
from mediavault.domain.models import FileVersion
from mediavault.domain.signing import is_valid_signature
from mediavault.errors import InvalidRequest, NotFound, Unauthenticated
from mediavault.services import delivery
from mediavault.urls import PATH_SAFE_CHARS

THUMBNAIL_NAMES = frozenset({"n-ik_ml_thumbnail", "n-media_library_thumbnail"})
SIGNATURE_PARAMS = ("ik-s", "ik-t")
IMMUTABLE = "public, max-age=31536000, immutable"
DOCUMENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/xml", "application/xml"})
REVALIDATE = "public, max-age=0, must-revalidate"
PRIVATE = "private, max-age=0, must-revalidate"
# Delivered bytes are data, never a page of ours: no scripts, no plugins, no sniffing.
SAFETY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; media-src 'self'; sandbox",
}


@dataclass(frozen=True)
class DeliveryRequest:
    file_path: str  # decoded, "/animals/cat.jpg"
    signed_part: str  # what the SDK signs: the raw URL after the endpoint, minus ik-s/ik-t
    params: dict[str, str]
    thumbnail: bool


async def serve(ctx: AppContext, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = await _respond(ctx, scope)
    except Exception as exc:  # every failure, expected or not, goes through the one error table
        answer = answer_for(exc, str(scope.get("method", "GET")), _logged_path(scope))
        response = JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
    await response(scope, receive, send)  # type: ignore[arg-type]  # litestar and starlette ASGI types


async def _respond(ctx: AppContext, scope: Scope) -> Response:
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        raise NotFound("The requested API endpoint does not exist.")
    request = _parse(ctx.settings.normalized_delivery_prefix, scope)
    token = request.params.get("ik-obj-version")
    item = await to_thread.run_sync(delivery.resolve, ctx.stores, request.file_path, token)
    if item.version.metadata.is_private_file and not _signature_ok(ctx.private_key, request):
        raise InvalidSignature()
    digest = item.version.content.digest
    etag = f'"{digest}-thumbnail"' if request.thumbnail else f'"{digest}"'
    headers = {"etag": etag, "cache-control": _cache_control(request, item), **SAFETY_HEADERS}
    if not request.thumbnail and item.version.content.mime in DOCUMENT_TYPES:
        # A page opened from our origin could script it; a download cannot.
        headers["content-disposition"] = "attachment"
    if _matches(_header(scope, b"if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if request.thumbnail:
        path, content_type = await to_thread.run_sync(delivery.thumbnail, ctx.stores, item)
    else:
        local = ctx.stores.blobs.local_path(digest)
        if local is None:
            # Checked before the 200 goes out: after it, a failure could only cut the body short.
            await to_thread.run_sync(delivery.ensure_stored, ctx.stores, item)
            return streamed_blob(ctx.stores.blobs, item.version.content, headers, scope)
        path, content_type = local, item.version.content.mime
    try:
        stat = await to_thread.run_sync(os.stat, path)
    except FileNotFoundError:
        raise delivery.missing_blob(item) from None
    return FileResponse(path, media_type=content_type, headers=headers, stat_result=stat)


def _logged_path(scope: Scope) -> str:
    # The mount rewrites scope["path"] relative to its prefix; raw_path is what the client sent.
    raw_path = scope.get("raw_path")
    return raw_path.decode("latin-1").split("?", 1)[0] if raw_path else scope["path"]


def _parse(prefix: str, scope: Scope) -> DeliveryRequest:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe=PATH_SAFE_CHARS)
    path = path.split("?", 1)[0]
    if path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    relative = path.lstrip("/")
    thumbnail = False
    first, _, rest = relative.partition("/")
    if first.startswith("tr:"):
        thumbnail = _is_thumbnail(first[3:])
        relative_file = rest
    else:
        relative_file = relative
    query = scope.get("query_string", b"").decode("latin-1")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in SIGNATURE_PARAMS]
    params = dict(parse_qsl(query, keep_blank_values=True))
    if "tr" in params:
        thumbnail = _is_thumbnail(params["tr"])
    signed_part = relative + ("?" + "&".join(kept) if kept else "")
    file_path = "/" + unquote(relative_file)
    # Stored names never hold a NUL (and PostgreSQL cannot even compare one).
    if file_path == "/" or "\x00" in file_path or "\x00" in params.get("ik-obj-version", ""):
        raise NotFound("The requested file does not exist.")
    return DeliveryRequest(file_path, signed_part, params, thumbnail)


def _is_thumbnail(transformation: str) -> bool:
    if transformation in THUMBNAIL_NAMES:
        return True
    raise InvalidTransformation()


class InvalidTransformation(InvalidRequest):
    message = (
        "This server supports only the n-ik_ml_thumbnail transformation; "
        "other transformations are not applied."
    )


class InvalidSignature(Unauthenticated):
    message = "The signature of this private file's URL is missing, invalid or expired."


def _signature_ok(private_key: str, request: DeliveryRequest) -> bool:
    signature = request.params.get("ik-s")
    if not signature:
        return False
    return is_valid_signature(
        private_key, request.signed_part, signature, request.params.get("ik-t"), time.time()
    )


def _cache_control(request: DeliveryRequest, item: FileVersion) -> str:
    if item.version.metadata.is_private_file:
        return PRIVATE
    if "ik-obj-version" in request.params:
        return IMMUTABLE  # a token names one version's bytes for good
    if request.params.get("updatedAt") == str(item.updated_at):
        return IMMUTABLE  # this URL names the file as it is now; any change moves updatedAt
    return REVALIDATE


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates
