"""The three hottest reads answered in front of Litestar: a version, a file, its version list.

Profiled on GET version details, Litestar's per-request pipeline (routing, a copy of the route
handler per guard, signature parsing, response objects) cost more than the lookup and the
serializer together; on two cores it held the route at a quarter of a bare ASGI app. So the
plain case is answered here, with the same service calls and the same serializer (its msgspec
Struct, encoded without the dict that Litestar's routes get from it; the version list from
rows rather than records, see storage.lookups.VersionList): a GET of the
exact path, with no query string, and a key that authenticates. Everything else (no key or a
wrong one, a query string, another method) goes on to the Litestar routes, which own request
validation; so both paths answer alike, and the OpenAPI document keeps describing these routes.
A failure of the service call (an id that does not resolve, a database error) is answered by
api/errors.answer_for, the function behind Litestar's exception handlers: same status, body
and log line, without running the lookup a second time.

Every request under the delivery prefix goes straight to the delivery handler, the raw ASGI
app that Litestar's mount would call (api/routes/delivery.py): the handler does its own
parsing, errors and responses, so Litestar only added its routing to each delivery. Unless
another route lives under the prefix (a configured prefix such as /v1), then Litestar routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from mediavault.api.answer_cache import CachedAnswer
from mediavault.api.auth import is_private_key, private_key_of
from mediavault.api.context import AppContext, run_lookup
from mediavault.api.errors import answer_for
from mediavault.api.observability import ROUTE_KEY
from mediavault.api.routes import delivery
from mediavault.domain.preconditions import entity_tag
from mediavault.errors import AssetNotFound
from mediavault.serializers import file_struct, version_list
from mediavault.services import files, versions
from mediavault.services.files import checked_file_id
from mediavault.services.versions import checked_version_id
from mediavault.storage.lookups import LISTED_COLUMNS

_JSON_HEADERS = [(b"content-type", b"application/json")]
_KNOWN_KEYS_MAX = 64

# (path pattern, answer, route template): each answer returns the JSON value of a successful
# response and the id of the file's current version (its ETag).
Answer = Callable[[AppContext, "re.Match[str]"], Awaitable[tuple[Any, str]]]
_ID_IN_LIST = LISTED_COLUMNS.index("id")


async def _version(ctx: AppContext, match: re.Match[str]) -> tuple[Any, str]:
    answer = await run_lookup(ctx, _version_answer, ctx, match[1], match[2])
    return answer.body, answer.etag_id


async def _versions(ctx: AppContext, match: re.Match[str]) -> tuple[Any, str]:
    answer = await run_lookup(ctx, _version_list_answer, ctx, match[1])
    return answer.body, answer.etag_id


async def _details(ctx: AppContext, match: re.Match[str]) -> tuple[Any, str]:
    answer = await run_lookup(ctx, _details_answer, ctx, match[1])
    return answer.body, answer.etag_id


_encode = msgspec.json.Encoder().encode


def _version_answer(ctx: AppContext, file_id: str, version_id: str) -> CachedAnswer:
    file_id, version_id = checked_file_id(file_id), checked_version_id(version_id)

    def made() -> tuple[bytes, str]:
        found = versions.get_version_and_current(ctx.stores, file_id, version_id)
        return _encode(file_struct(found[0], ctx.urls)), found[1]

    return _kept(ctx, f"version {file_id} {version_id}", file_id, made)


def _version_list_answer(ctx: AppContext, file_id: str) -> CachedAnswer:
    """services.versions.list_versions, as rows (storage.lookups.VersionList): the same
    checks and errors."""
    file_id = checked_file_id(file_id)

    def made() -> tuple[bytes, str]:
        with ctx.stores.meta.lookups() as lookups:
            found = lookups.version_list(file_id)
        if found is None:
            raise AssetNotFound()
        return _encode(version_list(found, ctx.urls)), found.rows[0][_ID_IN_LIST]

    return _kept(ctx, f"versions {file_id}", file_id, made)


def _details_answer(ctx: AppContext, file_id: str) -> CachedAnswer:
    file_id = checked_file_id(file_id)

    def made() -> tuple[bytes, str]:
        item = files.get_details(ctx.stores, file_id)
        return _encode(file_struct(item, ctx.urls)), item.version.id

    return _kept(ctx, f"details {file_id}", file_id, made)


def _kept(
    ctx: AppContext, key: str, file_id: str, made: Callable[[], tuple[bytes, str]]
) -> CachedAnswer:
    """The worker's answer for `key` if the file's revision is still the one it was made at
    (api/answer_cache.py); else a new one, made by `made` and kept. The revision is read
    before the answer is made, so a kept answer is never older than its revision: a write in
    between only makes the next request make it again."""
    with ctx.stores.meta.lookups() as lookups:
        revision = lookups.revision(file_id)
    if revision is not None:
        kept = ctx.answers.get(key, revision)
        if kept is not None:
            return kept
    body, etag_id = made()  # no file: the route's own error
    answer = CachedAnswer(revision if revision is not None else -1, body, etag_id)
    if revision is not None:
        ctx.answers.put(key, revision, answer, len(body))
    return answer


_PREFIX = "/v1/files/"
VERSION_ROUTE = "/v1/files/{fileId}/versions/{versionId}"
_ROUTES: list[tuple[re.Pattern[str], Answer, str]] = [
    (re.compile(r"/v1/files/([^/]+)/versions/([^/]+)"), _version, VERSION_ROUTE),
    (re.compile(r"/v1/files/([^/]+)/versions"), _versions, "/v1/files/{fileId}/versions"),
    (re.compile(r"/v1/files/([^/]+)/details"), _details, "/v1/files/{fileId}/details"),
]


class FastReads:
    def __init__(self, app: Any, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        # Authorization headers already checked: a client sends the same one every time.
        self._known_good: set[bytes] = set()
        self._encode = msgspec.json.Encoder().encode
        self._delivery = _delivery_prefix(app, ctx.settings.normalized_delivery_prefix)
        self._delivery_route = delivery.route_template(ctx.settings.normalized_delivery_prefix)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self._delivery is not None
            and scope["type"] == "http"
            and scope["path"].startswith(self._delivery)
        ):
            scope[ROUTE_KEY] = self._delivery_route  # for metrics and logs
            await delivery.serve(self.ctx, scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and scope["path"].startswith(_PREFIX)
        ):
            for pattern, answer, route in _ROUTES:
                match = pattern.fullmatch(scope["path"])
                if match is not None:
                    if self._authenticates(scope["headers"]):
                        scope[ROUTE_KEY] = route
                        await self._answer(answer, match, scope, send)
                        return
                    break
        await self.app(scope, receive, send)

    async def _answer(self, answer: Answer, match: re.Match[str], scope: Any, send: Any) -> None:
        status, extra_headers = 200, None
        try:
            value, current_id = await answer(self.ctx, match)
            body = value if type(value) is bytes else self._encode(value)
            extra_headers = {"etag": entity_tag(current_id)}
        except Exception as exc:  # every failure, expected or not, goes through the one table
            error = answer_for(exc, scope["method"], scope["path"])
            status, extra_headers = error.status, error.headers
            body = self._encode(error.body)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        if extra_headers:
            headers += [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _authenticates(self, headers: list[tuple[bytes, bytes]]) -> bool:
        value = next((v for k, v in headers if k == b"authorization"), None)
        if value is None:
            return False
        if value in self._known_good:
            return True
        supplied = private_key_of(value.decode("latin-1"))
        if supplied is None or not is_private_key(supplied, self.ctx.private_key):
            return False
        if len(self._known_good) < _KNOWN_KEYS_MAX:
            self._known_good.add(value)
        return True


def _delivery_prefix(app: Any, prefix: str) -> str | None:
    """`<prefix>/` when every path under it is the delivery mount's; None otherwise."""
    if prefix == "/":
        return None
    for route in getattr(app, "routes", ()):
        if route.path != prefix and route.path.startswith(prefix + "/"):
            return None
    return prefix + "/"
