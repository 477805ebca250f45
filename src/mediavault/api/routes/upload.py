"""POST /api/v1/files/upload: the streamed multipart upload (spec §5)."""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from anyio import to_thread
from litestar import Request, Response, post

from mediavault import serializers
from mediavault.api import forms, openapi
from mediavault.api.context import AppContext, context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.multipart import FormReader, decode_base64_file
from mediavault.api.preconditions import etag, if_match, if_none_match
from mediavault.domain.models import FileVersion
from mediavault.errors import InvalidRequest
from mediavault.media.probe import probe
from mediavault.services import idempotency, uploads
from mediavault.storage.blobs import StagedBlob

MAX_URL_BYTES = 8192


@post(
    "/api/v1/files/upload",
    guards=MANAGEMENT_GUARDS,
    status_code=200,
    # The form reader enforces MEDIAVAULT_MAX_UPLOAD_BYTES itself, with ImageKit's message.
    request_max_body_size=None,
    operation_class=openapi.documented(
        {200: ("The stored file or new version.", openapi.UPLOAD_RESULT)},
        body=openapi.UPLOAD_FORM,
        media_type="multipart/form-data",
        errors={408: "The client stopped sending the body."},
        etag=True,
        if_match=True,
        if_none_match=True,
        idempotent=True,
    ),
    summary="Upload a file, or a new version of the file at the same path",
    tags=["upload"],
)
async def upload_file(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = context_of(request)
    settings, stores = ctx.settings, ctx.stores
    reader = FormReader(
        stores.blobs,
        settings.max_upload_bytes,
        settings.max_field_bytes,
        settings.upload_idle_timeout_seconds,
        settings.max_fields,
        settings.max_fields_total_bytes,
    )
    form = await reader.read(request.headers.get("content-type"), request.stream())
    staged = form.file
    try:
        if staged is None or staged.size == 0:
            raise InvalidRequest("Your request is missing file parameter.")
        # The request as read, whatever its multipart boundary: a retry matches it.
        meaning = idempotency.upload_meaning(form.fields, staged.digest, form.file_is_text)

        async def run() -> Response[Any]:
            nonlocal staged
            assert staged is not None
            target, options, response_fields = forms.upload_fields(form.fields)
            expected, create_only = if_match(request), if_none_match(request)
            if form.file_is_text:
                staged = await _file_from_text(staged, ctx)
            opened = staged

            def source() -> BinaryIO:
                return stores.blobs.open_staged(opened)

            def probe_and_store() -> FileVersion:
                # One thread hop for both: each hop wakes a worker thread and the loop.
                content = probe(source, opened.head, opened.digest, opened.size)
                return uploads.upload(
                    stores,
                    opened,
                    content,
                    target,
                    options,
                    expected_version=expected,
                    create_only=create_only,
                )

            result = await to_thread.run_sync(probe_and_store)
            body = serializers.upload_response(result, ctx.urls, response_fields)
            return Response(body, headers=etag(result.version.id))

        return await idempotently(request, run, meaning)
    finally:
        if staged is not None:
            stores.blobs.discard(staged)


_URL = re.compile(rb"\s*[A-Za-z][A-Za-z0-9+.-]*://")


async def _file_from_text(text: StagedBlob, ctx: AppContext) -> StagedBlob:
    """A text `file` field holds a URL to fetch, or base64 (plain or a data URI)."""
    settings, blobs = ctx.settings, ctx.stores.blobs
    if not _URL.match(text.head):
        return await to_thread.run_sync(decode_base64_file, blobs, text, settings.max_upload_bytes)
    blobs.discard(text)
    if text.size > MAX_URL_BYTES:
        raise InvalidRequest("Your request contains invalid file parameter. The URL is too long.")
    # Imported on first use: httpx and httpcore are 5 MB of every worker otherwise.
    from mediavault.media.fetch import fetch_to_staging

    return await fetch_to_staging(
        text.head.decode("utf-8", "replace").strip(),
        blobs,
        settings.max_upload_bytes,
        settings.url_upload_timeout_seconds,
        settings.url_upload_allow_private,
    )
