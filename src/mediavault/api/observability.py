"""The outermost middleware of every request: its id, its metrics and, in JSON mode, its log line.

The request id is the client's `X-Request-Id` when it is sane (1 to 128 characters of
letters, digits and `-._:`), else one made here from a per-process prefix and a counter (no
system call); it is answered as ImageKit's `x-ik-requestId` and as `x-request-id`, and set in
a context variable that every log line of the request carries.

Metrics are labelled by route TEMPLATE: the fast path and delivery put theirs in the scope
(`mediavault.route`), Litestar's routes leave `path_template` there after routing, turned into
ImageKit's spelling once per template; anything no route matched counts as `unmatched`, so a
scan of random paths cannot grow the label set. A request is counted in this process's
memory (ops/metrics.RequestTally: a dictionary update), which reaches the shared metrics
files within a second.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any

from litestar.types import ASGIApp

from mediavault.ops import metrics
from mediavault.ops.logs import REQUEST_ID, access_log

ROUTE_KEY = "mediavault.route"
UNMATCHED = "unmatched"
UPLOAD_ROUTES = frozenset({"/api/v1/files/upload", "/api/v2/files/upload"})
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


def imagekit_template(path_template: str) -> str:
    """`/v1/files/{file_id:str}/versions` -> `/v1/files/{fileId}/versions`."""

    def camel(match: re.Match[str]) -> str:
        first, *rest = match[1].split("_")
        return "{" + first + "".join(part.title() for part in rest) + "}"

    return _PARAMETER.sub(camel, path_template)


class ObservedRequests:
    def __init__(self, app: ASGIApp, *, log_requests: bool, delivery_route: str) -> None:
        self.app = app
        self._log_requests = log_requests
        self._delivery_route = delivery_route
        # Unique without a system call per request: a random per-process prefix and a counter.
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count()
        self._templates: dict[str, str] = {}
        self._tally = metrics.TALLY

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                if _SANE_ID.fullmatch(value.decode("latin-1")):
                    request_id = value
                break
        if request_id is None:
            request_id = f"{self._prefix}{next(self._counter):016x}".encode()
        reset = REQUEST_ID.set(request_id.decode("latin-1"))
        # status, bytes received, bytes sent, the response's headers (for a pathsend's size)
        state: list[Any] = [500, 0, 0, None]

        async def receive_counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                state[1] += len(message.get("body", b""))
            return message

        async def send_with_id(message: Any) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state[0] = message["status"]
                headers: Any = message.get("headers", ())
                # Both names: ImageKit's, and the one its browser SDK reads (x-request-id).
                if isinstance(headers, list):
                    headers += ((b"x-ik-requestid", request_id), (b"x-request-id", request_id))
                else:
                    headers = message["headers"] = [
                        *headers,
                        (b"x-ik-requestid", request_id),
                        (b"x-request-id", request_id),
                    ]
                state[3] = headers
            elif kind == "http.response.body":
                state[2] += len(message.get("body", b""))
            elif kind == "http.response.pathsend":
                state[2] += _content_length(state[3])
            await send(message)

        try:
            await self.app(scope, receive_counted, send_with_id)
        finally:
            self._observe(scope, state, time.perf_counter() - started)
            REQUEST_ID.reset(reset)

    def _observe(self, scope: Any, state: list[Any], seconds: float) -> None:
        route: str | None = scope.get(ROUTE_KEY)
        if route is None:
            route = self._template_of(scope)
        method: str = scope["method"]
        status: int = state[0]
        tally = self._tally
        tally.count(route, method, status, seconds)
        if route == self._delivery_route:
            tally.delivery_bytes += state[2]
        elif route in UPLOAD_ROUTES:
            tally.upload_bytes += state[1]
        if self._log_requests:
            fields = {
                "route": route,
                "method": method,
                "status": status,
                "durationMs": round(seconds * 1000, 3),
                "bytesIn": state[1],
                "bytesOut": state[2],
            }
            access_log.info("request", extra={"fields": fields})

    def _template_of(self, scope: Any) -> str:
        path_template = scope.get("path_template")  # set by Litestar's routing
        if not path_template:
            return UNMATCHED
        template = self._templates.get(path_template)
        if template is None:
            template = imagekit_template(path_template)
            if template + "/{filePath}" == self._delivery_route:
                template = self._delivery_route  # the Litestar mount of delivery
            self._templates[path_template] = template
        return template


def _content_length(headers: Any) -> int:
    for key, value in headers or ():
        if key.lower() == b"content-length":
            return int(value)
    return 0
