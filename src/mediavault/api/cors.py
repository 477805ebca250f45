"""CORS for the routes a web page may call: the two upload routes and delivery.

Only origins in MEDIAVAULT_CORS_ORIGINS (or any, with `*`) get the headers that let a page
read the answer; without the setting this middleware is not installed at all. The management
API never gets them, so a page can never use a private key that leaked into a browser.

A preflight (OPTIONS with Access-Control-Request-Method) is answered here: 204 with the
allowed methods, the requested headers echoed and a day's max-age for an allowed origin, 403
in ImageKit's error shape otherwise. Actual requests go on unchanged; their answers, errors
included (else the browser hides the error JSON), gain Access-Control-Allow-Origin,
Vary: Origin and the request-id headers the JS SDK reads.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mediavault.api.errors import error_body

UPLOAD_PATHS = frozenset({"/api/v1/files/upload", "/api/v2/files/upload"})
_UPLOAD_METHODS = b"POST, OPTIONS"
_DELIVERY_METHODS = b"GET, HEAD, OPTIONS"
_EXPOSED = b"x-request-id, x-ik-requestid, etag, content-length, content-type"
_MAX_AGE = b"86400"
_MAX_REQUESTED_HEADERS = 1024


class CorsMiddleware:
    def __init__(self, app: Any, origins: frozenset[str], delivery_prefix: str) -> None:
        self.app = app
        self._any = "*" in origins
        self._origins = {origin.encode("latin-1") for origin in origins if origin != "*"}
        self._delivery = delivery_prefix.rstrip("/") + "/"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        methods = self._methods_for(scope["path"])
        if methods is None:
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        requested = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and origin is not None and requested is not None:
            await self._preflight(scope, send, origin, methods)
            return
        if origin is None or not self._allows(origin):
            await self.app(scope, receive, send)
            return
        allow = self._allow_value(origin)

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers += [
                    (b"access-control-allow-origin", allow),
                    (b"access-control-expose-headers", _EXPOSED),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _methods_for(self, path: str) -> bytes | None:
        if path in UPLOAD_PATHS:
            return _UPLOAD_METHODS
        if path.startswith(self._delivery):
            return _DELIVERY_METHODS
        return None

    def _allows(self, origin: bytes) -> bool:
        return self._any or origin in self._origins

    def _allow_value(self, origin: bytes) -> bytes:
        # `*` only where any origin is allowed; a listed origin is echoed (with Vary: Origin).
        return b"*" if self._any else origin

    async def _preflight(self, scope: Any, send: Any, origin: bytes, methods: bytes) -> None:
        if not self._allows(origin):
            body = msgspec.json.encode(
                error_body("This origin may not call this route from a browser.")
            )
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"vary", b"Origin"),
            ]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        requested = _header(scope, b"access-control-request-headers") or b""
        headers = [
            (b"access-control-allow-origin", self._allow_value(origin)),
            (b"access-control-allow-methods", methods),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        if requested and len(requested) <= _MAX_REQUESTED_HEADERS:
            headers.append((b"access-control-allow-headers", requested))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _header(scope: Any, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
