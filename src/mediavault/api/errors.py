"""Domain errors to HTTP: one status table and ImageKit's error body, for every failure."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from mediavault import errors

HELP = "For support kindly contact us at support@imagekit.io ."
log = logging.getLogger("mediavault")

STATUS: dict[type[errors.MediaVaultError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthenticated: 401,
    errors.RequestTimeout: 408,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.BlobMissing: 500,
    errors.StorageUnavailable: 503,
}


def status_for(exc: errors.MediaVaultError) -> int:
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500)


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "help": HELP, **extra}


def error_response(
    status: int, message: str, retry: bool = False, **extra: Any
) -> Response[dict[str, Any]]:
    # The SDKs retry 409s unless told not to; only a lost write race is worth retrying.
    headers = {"x-should-retry": "true" if retry else "false"} if status == 409 else None
    return Response(error_body(message, **extra), status_code=status, headers=headers)


def domain_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, errors.MediaVaultError)
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    extra: dict[str, Any] = dict(exc.extra)
    if exc.reason:
        extra["reason"] = exc.reason
    if isinstance(exc, errors.FilesNotFound):
        extra["missingFileIds"] = exc.missing_file_ids
    retry = isinstance(exc, errors.WriteConflict)
    return error_response(status, exc.message, retry=retry, **extra)


def http_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, HTTPException)
    # Unknown routes and wrong methods alike are 404 in ImageKit's shape (spec §10 q26).
    if exc.status_code in (404, 405):
        return error_response(404, "The requested API endpoint does not exist.")
    if isinstance(exc, ValidationException):
        return error_response(400, f"Your request contains invalid parameters: {exc.detail}")
    return error_response(exc.status_code, exc.detail)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "We encountered an internal error. Please try again later.")


EXCEPTION_HANDLERS = {
    errors.MediaVaultError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
