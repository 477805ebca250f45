"""`Idempotency-Key` on the write routes: claim the key, run the route, record its answer.

Routes call `idempotently(request, run)`; without the header it is `run()` and nothing else.
With it, the answer (status, body, ETag) of the first completed request is kept
(services/idempotency.py) and a repeat gets it back with `Idempotent-Replayed: true`.
Answers that ask for a retry are not kept: 5xx, 408 (the body stopped arriving) and 409 (a
lost race or a busy key); their claim is released so that the retry runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgspec
from anyio import to_thread
from litestar import Request, Response
from litestar.exceptions import HTTPException

from mediavault.api.context import AppContext, context_of
from mediavault.api.errors import answer_for, status_for
from mediavault.errors import MediaVaultError
from mediavault.services import idempotency
from mediavault.services.idempotency import StoredAnswer

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"
RETRY_STATUSES = frozenset({408, 409})
KEPT_HEADERS = ("etag",)
# Part of what a request is: the same body under another condition is another request.
CONDITIONS = ("if-match", "if-none-match")
_JSON = "application/json"
log = logging.getLogger("mediavault.idempotency")

Run = Callable[[], Awaitable[Response[Any]]]


async def idempotently(
    request: Request[Any, Any, Any],
    run: Run,
    meaning: str | Callable[[], str] | None = None,
) -> Response[Any]:
    """`meaning`: what makes the request itself (services.idempotency.upload_meaning), or a
    function that says it, called only for a request with the header; by default the digest
    of the raw body, which is the whole request of a JSON route."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return await run()
    key = idempotency.checked_key(raw)
    ctx = context_of(request)
    if meaning is None:
        meaning = idempotency.body_meaning(await request.body())
    elif callable(meaning):
        meaning = meaning()
    conditions = [
        f"{name}: {value}" for name in CONDITIONS for value in request.headers.getall(name, [])
    ]
    digest = idempotency.request_digest(request.method, request.url.path, meaning, conditions)
    lifetime = ctx.settings.idempotency_lifetime_ms
    stored = await to_thread.run_sync(idempotency.claim, ctx.stores, key, digest, lifetime)
    if stored is not None:
        return _response(stored, replayed=True)
    try:
        answer = _answer_of(await run())
    except Exception as exc:
        if _status_of(exc) >= 500 or _status_of(exc) in RETRY_STATUSES:
            await _release(ctx, key)
            raise
        error = answer_for(exc, request.method, request.url.path)
        answer = StoredAnswer(error.status, dict(error.headers or {}), _encode(error.body))
    except BaseException:
        await _release(ctx, key)  # cancelled: the client is gone, the outcome unknown
        raise
    if answer.status >= 500 or answer.status in RETRY_STATUSES:
        await _release(ctx, key)
    else:
        await _record(ctx, key, answer, lifetime)
    return _response(answer, replayed=False)


async def _record(ctx: AppContext, key: str, answer: StoredAnswer, lifetime: int) -> None:
    # The change is committed: failing to keep its answer must not turn it into an error. The
    # claim then stays until its process ends or the staging grace period passes (409 until
    # then), after which a retry runs again: see docs/decisions.md.
    try:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(idempotency.record, ctx.stores, key, answer, lifetime)
    except Exception:
        log.warning("could not record the answer of an idempotent request", exc_info=True)


async def _release(ctx: AppContext, key: str) -> None:
    # Shielded: a cancelled request must still give its key back. Should this fail, the claim
    # lapses when the process is gone or after the staging grace period; the request's own
    # outcome is what the client hears.
    try:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(idempotency.release, ctx.stores, key)
    except Exception:
        log.warning("could not release an idempotency key", exc_info=True)


def _status_of(exc: Exception) -> int:
    if isinstance(exc, MediaVaultError):
        return status_for(exc)
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


def _answer_of(response: Response[Any]) -> StoredAnswer:
    content = response.content
    body = b"" if content is None else content if isinstance(content, bytes) else _encode(content)
    headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
    return StoredAnswer(response.status_code or 200, headers, body)


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _response(answer: StoredAnswer, *, replayed: bool) -> Response[Any]:
    headers = dict(answer.headers)
    if replayed:
        headers[REPLAYED] = "true"
    content = answer.body if answer.body or answer.status != 204 else None
    return Response(content, status_code=answer.status, headers=headers, media_type=_JSON)
