"""Delivery of version bytes by URL: `<prefix>/<filePath>`, `?ik-obj-version=`, transformations.

A raw ASGI handler, and the hottest route there is: api/fast_reads.py sends every request
under the delivery prefix here before Litestar (the Litestar mount reaches the same function).
What a request costs, in order: one lookup statement (inline on SQLite, in a thread on
PostgreSQL: see api/context.run_lookup), a few header strings, and the bytes. A whole-body
answer from local disk opens the blob on the event loop (a local open, fstat and, for a blob of
up to INLINE_MAX bytes, read: less than handing it to a thread and back) and sends small blobs
in one body message, larger ones with the server's zero-copy pathsend (Starlette's
FileResponse). Range requests go to FileResponse (206, 416, multipart ranges, If-Range) and
blobs in an object store are streamed (api/ranges.py).

Validators: the ETag is the version's digest; Last-Modified is when the URL's version last
changed (the file's updatedAt for its plain URL, which an upload or a restore moves), so that
If-Modified-Since cannot answer 304 for a plain URL whose bytes a restore changed. Like every
HTTP date it has one-second granularity, so If-None-Match, which wins when both are sent, is
the exact one.

Transformations (`tr`): the text of the `tr:` path segment (percent-decoded) and of the `tr`
query value, joined with `:` when both are given, is parsed by the engine (media/transform);
its ETag is known before any rendering, so a 304 costs none. The rendition is computed in a
worker thread (or found in the cache) and sent as a file; `orig-true`, files that are not
images and images no decoder reads get the stored bytes, exactly as a plain URL. A plain URL
(no `tr`, or an empty one) is never transformed.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_tz
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote

import msgspec
from anyio import to_thread
from litestar.types import Receive, Scope, Send
from starlette.responses import FileResponse, Response

from mediavault.api.context import AppContext, run_lookup
from mediavault.api.errors import answer_for
from mediavault.api.ranges import streamed_blob
from mediavault.domain.models import Delivered
from mediavault.domain.signing import is_valid_signature
from mediavault.errors import NotFound, Unauthenticated
from mediavault.media.transform import Rendition
from mediavault.ops import metrics
from mediavault.services import delivery
from mediavault.storage.blobs import BlobStore
from mediavault.urls import PATH_SAFE_CHARS

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
# Blobs up to this size are read on the event loop and sent in one message; larger ones go
# with pathsend, which costs a file open in the server per request but never copies the bytes.
INLINE_MAX = 64 * 1024
_JSON = b"application/json"
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class DeliveryRequest:
    file_path: str  # decoded, "/animals/cat.jpg"
    signed_part: str  # what the SDK signs: the raw URL after the endpoint, minus ik-s/ik-t
    params: dict[str, str]  # never changed: a parsed request is kept and shared (_parsed)
    transformation: str | None  # the `tr` text (path and query joined with ":"), None: plain


class Reply:
    """A whole answer in memory: status, raw headers and body, sent in two ASGI messages."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def route_template(prefix: str) -> str:
    """Every delivery URL's route, in metrics and logs."""
    return f"{prefix}/{{filePath}}"


class KeptReply(NamedTuple):
    """A small delivery's whole answer, kept per worker while its file's revision holds: the
    ETag and date its conditions are checked against, the headers of its 304 and its 200."""

    etag: str
    last_modified: int
    not_modified: list[tuple[bytes, bytes]]
    ok: list[tuple[bytes, bytes]]
    body: bytes


async def serve(ctx: AppContext, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = _kept_reply(ctx, scope) or await _respond(ctx, scope)
    except Exception as exc:  # every failure, expected or not, goes through the one error table
        answer = answer_for(exc, str(scope.get("method", "GET")), _logged_path(scope))
        body = _encode(answer.body)
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON)]
        if answer.headers:
            headers += [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()
            ]
        response = Reply(answer.status, headers, body)
    if type(response) is Reply:
        if response.status < 300:
            ctx.bandwidth.add(len(response.body))  # services.bandwidth: an addition in memory
        await response(scope, receive, send)
        return
    await response(scope, receive, _counted(ctx, send))  # type: ignore[arg-type]  # litestar and starlette ASGI types


def _kept_key(scope: Scope) -> str | None:
    raw_path = scope.get("raw_path")
    if not raw_path or scope.get("method") not in ("GET", "HEAD"):
        return None
    return (raw_path + b"?" + scope.get("query_string", b"")).decode("latin-1")


def _kept_reply(ctx: AppContext, scope: Scope) -> Reply | None:
    """The worker's kept answer to this URL, if it has one and the file at the URL's path is
    still at the revision it was made at (the revision moves with every change to the file or
    its versions: migration 0010); None otherwise, and the request is answered in full. Only
    on SQLite, where that check is a local read: on PostgreSQL it would cost what the lookup
    itself costs."""
    key = _kept_key(scope)
    if key is None or key not in ctx.deliveries or not ctx.stores.meta.lookups_inline:
        return None
    conditions = _Conditions(scope)
    if conditions.range is not None:
        return None
    request = _parsed(ctx.settings.normalized_delivery_prefix, scope)
    with ctx.stores.meta.lookups() as lookups:
        revision = lookups.revision_at_path(request.file_path)
    kept: KeptReply | None = None if revision is None else ctx.deliveries.get(key, revision)
    if kept is None:
        return None
    if conditions.not_modified(kept.etag, kept.last_modified):
        return Reply(304, list(kept.not_modified), b"")  # copies: middleware adds headers
    return Reply(200, list(kept.ok), kept.body if scope.get("method") == "GET" else b"")


def _keep(
    ctx: AppContext,
    scope: Scope,
    request: DeliveryRequest,
    item: Delivered,
    headers: dict[str, str],
    reply: Reply | Response,
) -> None:
    """Keep a plain or token URL's small answer whose bytes anyone may have: not signed, not
    private, read whole (pathsend answers, ranges and renditions are not kept)."""
    if (
        type(reply) is Reply
        and reply.status == 200
        and scope.get("method") == "GET"
        and item.revision >= 0
        and not item.is_private_file
        and item.is_published
        and "ik-s" not in request.params
        and ctx.stores.meta.lookups_inline
    ):
        key = _kept_key(scope)
        if key is not None:
            kept = KeptReply(
                headers["etag"],
                item.updated_at // 1000,
                _raw(headers),
                reply.headers,
                reply.body,
            )
            ctx.deliveries.put(key, item.revision, kept, len(reply.body) + 512)


def _counted(ctx: AppContext, send: Send) -> Send:
    """`send`, counting the body bytes of a file or streamed answer (pathsend: its length)."""
    length, ok = 0, False

    async def counting(message: Any) -> None:  # ASGI's message types do not know pathsend
        nonlocal length, ok
        kind = message["type"]
        if kind == "http.response.start":
            ok = message["status"] < 300
            for key, value in message.get("headers", ()):
                if key.lower() == b"content-length":
                    length = int(value)
        elif kind == "http.response.body" and ok:
            ctx.bandwidth.add(len(message.get("body", b"")))
        elif kind == "http.response.pathsend" and ok:
            ctx.bandwidth.add(length)
        await send(message)

    return counting


async def _respond(ctx: AppContext, scope: Scope) -> Reply | Response:
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        raise NotFound("The requested API endpoint does not exist.")
    request = _parsed(ctx.settings.normalized_delivery_prefix, scope)
    token = request.params.get("ik-obj-version")
    # Checked first only when a signature is sent: it also opens unpublished versions.
    signed = "ik-s" in request.params and _signature_ok(ctx.private_key, request)
    item = await run_lookup(ctx, delivery.resolve, ctx.stores, request.file_path, token, signed)
    chain = None
    if request.transformation is not None:
        chain = ctx.stores.renditions.parse(request.transformation)  # BadTransformation: 400
    # Named transformations work unsigned on private files (spec 1.4), except the built-in
    # thumbnail, which has always needed the signature here.
    unsigned_ok = chain is not None and chain.named_only and not chain.placeholder
    if item.is_private_file and not unsigned_ok and not signed:
        raise InvalidSignature()
    digest = item.digest
    is_image = item.file_type == "image"
    conditions = _Conditions(scope)
    if chain is None:
        etag = f'"{digest}"'
        vary = False
    else:
        etag = ctx.stores.renditions.etag(
            chain, digest, conditions.accept, is_image=is_image, video=delivery.is_video(item)
        )
        vary = chain.auto_format and is_image
    last_modified = item.updated_at // 1000
    headers = {
        "etag": etag,
        "cache-control": _cache_control(request, item),
        "last-modified": _http_date(last_modified),
        **SAFETY_HEADERS,
    }
    if vary:
        headers["vary"] = "Accept"
    if item.mime in DOCUMENT_TYPES and (chain is None or not chain.placeholder):
        # A page opened from our origin could script it; a download cannot.
        headers["content-disposition"] = "attachment"
    if conditions.not_modified(etag, last_modified):
        return Reply(304, _raw(headers), b"")
    if chain is not None:
        # A warm rendition is served from the event loop; only a miss goes to a thread.
        rendition = delivery.cached_rendition(ctx.stores, item, chain, conditions.accept)
        if rendition is not None:
            with contextlib.suppress(FileNotFoundError):  # evicted just now: render it again
                answer = _send_rendition(rendition, headers, conditions, method)
                metrics.RENDITION_HITS.inc()
                return answer
        rendition = await to_thread.run_sync(
            delivery.render, ctx.stores, item, chain, conditions.accept
        )
        if rendition.path is not None:
            metrics.RENDITION_MISSES.inc()
            return _send_rendition(rendition, headers, conditions, method)
        headers["etag"] = rendition.etag  # the stored bytes, as the chain asked
    local = _local_path(ctx.stores.blobs, digest)
    if local is None:
        # Checked before the 200 goes out: after it, a failure could only cut the body short.
        await to_thread.run_sync(delivery.ensure_stored, ctx.stores, item)
        return streamed_blob(ctx.stores.blobs, item, headers, scope)
    try:
        reply = _send_file(local, item.mime, headers, conditions, method)
    except FileNotFoundError:
        raise delivery.missing_blob(item) from None
    _keep(ctx, scope, request, item, headers, reply)
    return reply


def _send_rendition(
    rendition: Rendition, headers: dict[str, str], conditions: _Conditions, method: str
) -> Reply | Response:
    assert rendition.path is not None and rendition.content_type is not None
    headers = {**headers, "etag": rendition.etag}
    if rendition.vary_accept:
        headers["vary"] = "Accept"
    else:
        headers.pop("vary", None)
    headers.pop("content-disposition", None)  # a picture made by us, not the stored document
    return _send_file(rendition.path, rendition.content_type, headers, conditions, method)


def _send_file(
    path: str | Path,
    content_type: str,
    headers: dict[str, str],
    conditions: _Conditions,
    method: str,
) -> Reply | Response:
    """A local file: small ones read here and sent in one message, larger ones (and ranges)
    by FileResponse. FileNotFoundError if the file is not there."""
    fd = os.open(path, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        if conditions.range is not None or (stat.st_size > INLINE_MAX and method == "GET"):
            return FileResponse(path, media_type=content_type, headers=headers, stat_result=stat)
        body = _read(fd, stat.st_size) if method == "GET" else b""
    finally:
        os.close(fd)
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"  # as Starlette's responses say it
    raw = _raw(headers)
    raw += [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(stat.st_size).encode()),
        (b"accept-ranges", b"bytes"),
    ]
    return Reply(200, raw, body)


_LOCAL_PATHS: dict[tuple[object, str], str | None] = {}


def _local_path(blobs: BlobStore, digest: str) -> str | None:
    """A blob's file never moves: its path is worked out (and its digest checked) once."""
    key = (blobs, digest)
    try:
        return _LOCAL_PATHS[key]
    except KeyError:
        if len(_LOCAL_PATHS) >= 65536:
            _LOCAL_PATHS.clear()
        path = blobs.local_path(digest)
        found = _LOCAL_PATHS[key] = None if path is None else str(path)
        return found


def _read(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break  # never shorter than its fstat size: blobs are written once, then renamed
        chunks.append(chunk)
        size -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


class _Conditions:
    """The request headers that decide between 304, 206 and 200, read in one pass."""

    __slots__ = ("accept", "if_modified_since", "if_none_match", "range")

    def __init__(self, scope: Scope) -> None:
        self.if_none_match: str | None = None
        self.if_modified_since: str | None = None
        self.range: str | None = None
        self.accept: str | None = None
        for key, value in scope.get("headers", []):
            if len(key) in (13, 17, 5, 6):  # the lengths of the four names below
                name = bytes(key).lower()
                if name == b"if-none-match":
                    self.if_none_match = bytes(value).decode("latin-1")
                elif name == b"if-modified-since":
                    self.if_modified_since = bytes(value).decode("latin-1")
                elif name == b"range":
                    self.range = bytes(value).decode("latin-1")
                elif name == b"accept":
                    self.accept = bytes(value).decode("latin-1")

    def not_modified(self, etag: str, last_modified: int) -> bool:
        """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since otherwise."""
        if self.if_none_match is not None:
            return _matches(self.if_none_match, etag)
        if self.if_modified_since is not None:
            since = _parse_http_date(self.if_modified_since)
            return since is not None and last_modified <= since
        return False


def _parse_http_date(value: str) -> int | None:
    """Seconds since the epoch of an HTTP date; None for anything else (then it is ignored)."""
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        return calendar.timegm(parsed[:9]) - (parsed[9] or 0)  # HTTP dates are in GMT
    except (OverflowError, ValueError):
        return None


def _logged_path(scope: Scope) -> str:
    # The mount rewrites scope["path"] relative to its prefix; raw_path is what the client sent.
    raw_path = scope.get("raw_path")
    return raw_path.decode("latin-1").split("?", 1)[0] if raw_path else scope["path"]


_PARSED: dict[tuple[str, bytes, bytes], DeliveryRequest] = {}
_PARSED_URL_MAX = 1024


def _parsed(prefix: str, scope: Scope) -> DeliveryRequest:
    """_parse, remembered: a library's URLs are asked for again and again (a CDN in front asks
    for each one as its copy expires), and parsing one costs more than its lookup."""
    raw_path = scope.get("raw_path")
    query = scope.get("query_string", b"")
    if not raw_path or len(raw_path) + len(query) > _PARSED_URL_MAX:
        return _parse(prefix, scope)  # at most 4096 x 1 KiB of keys are kept
    key = (prefix, raw_path, query)
    try:
        return _PARSED[key]
    except KeyError:
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        request = _PARSED[key] = _parse(prefix, scope)
        return request


def _parse(prefix: str, scope: Scope) -> DeliveryRequest:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe=PATH_SAFE_CHARS)
    path = path.split("?", 1)[0]
    if path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    relative = path.lstrip("/")
    parts: list[str] = []
    first, _, rest = relative.partition("/")
    if first.startswith("tr:"):
        parts.append(unquote(first[3:]))
        relative_file = rest
    else:
        relative_file = relative
    query = scope.get("query_string", b"").decode("latin-1")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in SIGNATURE_PARAMS]
    params = dict(parse_qsl(query, keep_blank_values=True))
    if "tr" in params:
        parts.append(params["tr"])  # parse_qsl has decoded it
    text = ":".join(parts)
    # An empty `tr` (`?tr=`, `tr:/`, only separators) asks for nothing: the plain URL's bytes.
    transformation = text if text.strip(":,") else None
    signed_part = relative + ("?" + "&".join(kept) if kept else "")
    file_path = "/" + unquote(relative_file)
    # Stored names never hold a NUL (and PostgreSQL cannot even compare one).
    if file_path == "/" or "\x00" in file_path or "\x00" in params.get("ik-obj-version", ""):
        raise NotFound("The requested file does not exist.")
    return DeliveryRequest(file_path, signed_part, params, transformation)


class InvalidSignature(Unauthenticated):
    message = "The signature of this private file's URL is missing, invalid or expired."


def _signature_ok(private_key: str, request: DeliveryRequest) -> bool:
    signature = request.params.get("ik-s")
    if not signature:
        return False
    return is_valid_signature(
        private_key, request.signed_part, signature, request.params.get("ik-t"), time.time()
    )


def _cache_control(request: DeliveryRequest, item: Delivered) -> str:
    if item.is_private_file or not item.is_published:
        return PRIVATE
    if "ik-obj-version" in request.params:
        return IMMUTABLE  # a token names one version's bytes for good
    if request.params.get("updatedAt") == str(item.updated_at):
        return IMMUTABLE  # this URL names the file as it is now; any change moves updatedAt
    return REVALIDATE


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates
