"""Domain errors to HTTP: one status table and ImageKit's error body, for every entry point.

The Litestar app (its exception handlers), the delivery mount and the fast read path in front
of Litestar all answer a failure with `answer_for`, so an exception gets the same status, body
and log line whichever of them met it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from mediavault import errors
from mediavault.ops import metrics

HELP = "See docs/errors.md in the mediavault documentation."
INTERNAL_ERROR = "We encountered an internal error. Please try again later."
log = logging.getLogger("mediavault")
# How Litestar says that the client disconnected while it read a JSON body (an
# InternalServerException: it has no class of its own).
CLIENT_GONE = "client disconnected prematurely"
# An unexpected exception from these is the database's (counted in mediavault_storage_errors).
DATABASE_MODULES = ("sqlalchemy", "sqlite3", "psycopg")

STATUS: dict[type[errors.MediaVaultError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthenticated: 401,
    errors.RequestTimeout: 408,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.IdempotencyKeyReused: 422,
    errors.BlobMissing: 500,
    errors.StorageUnavailable: 503,
}


def status_for(exc: errors.MediaVaultError) -> int:
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500)


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "help": HELP, **extra}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def answer_for(exc: BaseException, method: str, path: str) -> ErrorAnswer:
    """The status, body and headers for any exception; server faults are logged here."""
    if isinstance(exc, errors.MediaVaultError):
        if isinstance(exc, (errors.StorageUnavailable, errors.BlobMissing)):
            metrics.STORAGE_ERRORS.labels("blob_store").inc()
        return _domain_answer(exc, method, path)
    if isinstance(exc, HTTPException):
        return _http_answer(exc, method, path)
    if type(exc).__module__.startswith(DATABASE_MODULES):
        metrics.STORAGE_ERRORS.labels("database").inc()
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return ErrorAnswer(500, error_body(INTERNAL_ERROR))


def _domain_answer(exc: errors.MediaVaultError, method: str, path: str) -> ErrorAnswer:
    status = status_for(exc)
    message = exc.message
    if status >= 500:
        # The detail (a digest, the object store's own error text) is for the operator; the
        # client gets the class's fixed wording, which names no internals.
        log.error("request failed on %s %s: %s", method, path, exc.message, exc_info=exc)
        message = type(exc).message
    extra: dict[str, Any] = dict(exc.extra)
    if exc.reason:
        extra["reason"] = exc.reason
    if isinstance(exc, errors.FilesNotFound):
        extra["missingFileIds"] = exc.missing_file_ids
    # The SDKs retry 409s unless told not to; only a lost write race is worth retrying.
    headers = None
    if status == 409:
        # A key in use answers as its first request once that ends: worth retrying too.
        retry = isinstance(exc, (errors.WriteConflict, errors.IdempotencyKeyInUse))
        headers = {"x-should-retry": "true" if retry else "false"}
    elif isinstance(exc, errors.BadTransformation):
        # ImageKit's delivery error header (spec 1.10). It quotes the client's text: only
        # printable ASCII goes into a header, the rest escaped (no CR/LF, nothing latin-1 lacks).
        headers = {"ik-error": _header_safe(exc.ik_error)}
    return ErrorAnswer(status, error_body(message, **extra), headers)


def _header_safe(text: str) -> str:
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)[:1000]


def _http_answer(exc: HTTPException, method: str, path: str) -> ErrorAnswer:
    # Unknown routes and wrong methods alike are 404 in ImageKit's shape (spec §10 q26).
    if exc.status_code in (404, 405):
        return ErrorAnswer(404, error_body("The requested API endpoint does not exist."))
    if isinstance(exc, ValidationException):
        message = f"Your request contains invalid parameters: {exc.detail}"
        return ErrorAnswer(400, error_body(message))
    if exc.detail == CLIENT_GONE:
        # The client hung up mid-body: its fault, not the server's, and nobody hears the answer.
        log.info("client disconnected before its body ended on %s %s", method, path)
        return ErrorAnswer(400, error_body("The request body ended before it was complete."))
    if exc.status_code >= 500:
        log.error("request failed on %s %s: %s", method, path, exc.detail, exc_info=exc)
        return ErrorAnswer(exc.status_code, error_body(INTERNAL_ERROR))
    return ErrorAnswer(exc.status_code, error_body(exc.detail))


def litestar_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    answer = answer_for(exc, request.method, request.url.path)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


# One handler for every exception: Litestar looks handlers up along the exception's MRO.
EXCEPTION_HANDLERS = {Exception: litestar_handler}
