"""POST /api/v1/files/upload and /api/v2/files/upload: the streamed multipart upload (spec §5),
with the private key or, from browsers, a single-use signature (V1) or JWT (V2)."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, BinaryIO

from litestar import Request, Response, post

from mediavault import serializers
from mediavault.api import forms, openapi
from mediavault.api.context import AppContext, context_of
from mediavault.api.guards import upload_guard
from mediavault.api.idempotency import idempotently
from mediavault.api.multipart import FormReader, decode_base64_file, in_thread
from mediavault.api.preconditions import etag, if_match, if_none_match
from mediavault.domain import upload_auth
from mediavault.domain.models import FileVersion
from mediavault.domain.upload_auth import Proof
from mediavault.errors import InvalidRequest, Unauthenticated
from mediavault.media.probe import probe
from mediavault.ops import metrics
from mediavault.services import client_uploads, idempotency, uploads
from mediavault.storage.blobs import StagedBlob

MAX_URL_BYTES = 8192


def _upload_route(path: str, summary: str, description: str) -> post:
    """The decorator both upload versions share: one form, one answer, one set of errors."""
    return post(
        path,
        # No `guards`: _upload runs upload_guard itself, first, as Litestar would before the
        # handler, without the copy of the route handler Litestar makes for every guard call.
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
        summary=summary,
        description=description,
        tags=["upload"],
    )


@_upload_route(
    "/api/v1/files/upload",
    "Upload a file, or a new version of the file at the same path",
    "With the private key (Basic auth), or from a browser without it: the form then adds "
    "`publicKey`, `token` (any unique string), `expire` (Unix seconds, under an hour ahead) "
    "and `signature` (hex HMAC-SHA1 of token + expire with the private key), good once.",
)
async def upload_file(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _upload(request, api_version=1)


@_upload_route(
    "/api/v2/files/upload",
    "Upload (V2): the private key, or a JWT `token` from a browser",
    "The same upload as V1. A browser sends no Authorization header but a `token` field: "
    "a JWT signed (HS256) with the private key, `kid` the public key, `exp` less than an "
    "hour ahead, whose claims are every other form field as strings. Each token works once.",
)
async def upload_file_v2(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _upload(request, api_version=2)


async def _upload(request: Request[Any, Any, Any], api_version: int) -> Response[Any]:
    # The guard of the upload routes, before the body is read (the key, unknown query
    # parameters), as Litestar runs route guards.
    await upload_guard(request, request.route_handler)
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
        fields, proof = _checked_proof(request, ctx, form.fields, api_version)
        if staged is None or staged.size == 0:
            await _use(ctx, proof)  # a failed upload spends its proof too
            raise InvalidRequest("Your request is missing file parameter.")
        # The request as read, whatever its multipart boundary: a retry matches it. Worked
        # out only for a request with an Idempotency-Key (a JSON text and a sha256 otherwise
        # spent on every upload).
        meaning = partial(idempotency.upload_meaning, fields, staged.digest, form.file_is_text)

        async def run() -> Response[Any]:
            nonlocal staged
            assert staged is not None
            # Spent here, not before: a retry under the same Idempotency-Key is replayed
            # without running this, so a browser's retry of a completed upload gets its answer.
            await _use(ctx, proof)
            target, options, response_fields = forms.upload_fields(fields)
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

            result = await in_thread(probe_and_store)
            metrics.VERSIONS_CREATED.inc()  # committed: a new file's first version, or the next
            body = serializers.upload_response(result, ctx.urls, response_fields)
            return Response(body, headers=etag(result.version.id))

        return await idempotently(request, run, meaning)
    finally:
        if staged is not None:
            stores.blobs.discard(staged)


def _checked_proof(
    request: Request[Any, Any, Any], ctx: AppContext, fields: dict[str, str], api_version: int
) -> tuple[dict[str, str], Proof | None]:
    """The upload's own fields, and the browser's proof that it may upload (None with a key).

    With an Authorization header the guard has checked the private key; a browser sends none
    and proves itself with V1's signature fields or V2's JWT instead (spec section 2); those
    are checked here and are not upload fields. Both at once is refused, as ImageKit does: the
    page would be exposing the private key. Neither: 401, as for any request without a key."""
    proof_fields = upload_auth.V1_FIELDS if api_version == 1 else ("token",)
    if request.headers.get("authorization") is not None:
        if any(name in fields for name in proof_fields):
            raise InvalidRequest(upload_auth.BOTH_V1 if api_version == 1 else upload_auth.BOTH_V2)
        return fields, None
    if not any(name in fields for name in proof_fields):
        raise Unauthenticated()
    proof = client_uploads.check(fields, api_version, ctx.public_key, ctx.private_key)
    return {name: value for name, value in fields.items() if name not in proof_fields}, proof


async def _use(ctx: AppContext, proof: Proof | None) -> None:
    if proof is not None:
        await in_thread(client_uploads.use, ctx.stores, proof)


_URL = re.compile(rb"\s*[A-Za-z][A-Za-z0-9+.-]*://")


async def _file_from_text(text: StagedBlob, ctx: AppContext) -> StagedBlob:
    """A text `file` field holds a URL to fetch, or base64 (plain or a data URI)."""
    settings, blobs = ctx.settings, ctx.stores.blobs
    if not _URL.match(text.head):
        return await in_thread(decode_base64_file, blobs, text, settings.max_upload_bytes)
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
