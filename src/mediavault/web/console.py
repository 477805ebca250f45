"""The web console at /ui/: sign-in, the library, and what every page and change shares.

Pages need a session (else a redirect to sign-in). Every change is a POST that needs the
session and its CSRF token (else 401 or 403 in ImageKit's error shape); it then redirects back
to its page (303), with the outcome or the service's error message in the query string. The
pages work as plain HTML forms; the ES modules add uploads, confirmation dialogs and the
comparison slider.
"""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.response import Redirect, Template

from mediavault.api.context import AppContext, context_of
from mediavault.api.listing_params import list_query
from mediavault.domain import upload_auth
from mediavault.domain.models import FileVersion, Folder
from mediavault.domain.names import normalize_folder
from mediavault.errors import Forbidden, InvalidRequest, MediaVaultError, Unauthenticated
from mediavault.services import assets
from mediavault.web import session, views
from mediavault.web.session import Session

PREFIX = "/ui"
PAGE_SIZE = 100
# A console upload proof lives ten minutes, and works once.
UPLOAD_PROOF_SECONDS = 600
NOT_SIGNED_IN = "Sign in to the web console first."
BAD_CSRF = "The console's CSRF token is missing or invalid. Reload the page and try again."
WRONG_KEY = "That is not this server's private key."


class SignInRequired(Exception):
    """A page was asked for without a session: the answer is the sign-in page."""


@lru_cache(maxsize=4)
def _secret(private_key: str) -> bytes:
    return session.session_secret(private_key)


def _session_of(request: Request[Any, Any, Any]) -> Session | None:
    secret = _secret(context_of(request).private_key)
    return session.read(secret, request.cookies.get(session.COOKIE), time.time())


def page_session(request: Request[Any, Any, Any]) -> Session:
    found = _session_of(request)
    if found is None:
        raise SignInRequired
    return found


async def change(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The session and CSRF checks of every change; returns the form's text fields."""
    found = _session_of(request)
    if found is None:
        raise Unauthenticated(NOT_SIGNED_IN)
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
    sent = request.headers.get(session.CSRF_HEADER) or fields.get(session.CSRF_FIELD)
    if not session.csrf_ok(_secret(context_of(request).private_key), found, sent):
        raise Forbidden(BAD_CSRF)
    return fields


def common(request: Request[Any, Any, Any], found: Session | None) -> dict[str, Any]:
    ctx = context_of(request)
    params = request.query_params
    return {
        "csrf": session.csrf_token(_secret(ctx.private_key), found) if found else "",
        "signed_in": found is not None,
        "notice": params.get("message"),
        "error": params.get("error"),
    }


def back(location: str, **params: str | None) -> Redirect:
    query = urlencode({k: v for k, v in params.items() if v})
    separator = "&" if "?" in location else "?"
    return Redirect(location + (separator + query if query else ""), status_code=303)


def library_url(folder_path: str) -> str:
    return f"{PREFIX}/" if folder_path == "/" else f"{PREFIX}/?{urlencode({'path': folder_path})}"


def file_url(file_id: str) -> str:
    return f"{PREFIX}/files/{file_id}"


async def run(function: Any, *args: Any) -> Any:
    return await to_thread.run_sync(function, *args)


def media_urls(ctx: AppContext) -> views.MediaUrls:
    return views.MediaUrls(ctx.settings.normalized_delivery_prefix, ctx.private_key, time.time())


# -- sign-in ----------------------------------------------------------------------------------


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect(f"{PREFIX}/", status_code=302)


@get("/sign-in", include_in_schema=False)
async def sign_in_page(request: Request[Any, Any, Any]) -> Template:
    return Template(
        "sign_in.html",
        context={**common(request, None), "next": request.query_params.get("next", "")},
    )


@post("/sign-in", include_in_schema=False)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx = context_of(request)
    form = await request.form()
    key, target = form.get("key"), form.get("next")
    if not isinstance(key, str) or not session.key_matches(ctx.private_key, key):
        context = {**common(request, None), "error": WRONG_KEY, "next": target or ""}
        return Template("sign_in.html", context=context, status_code=401)
    cookie, _ = session.issue(_secret(ctx.private_key), time.time(), ctx.settings.ui_session_hours)
    # Only a path inside the console: `next` must never send the browser elsewhere.
    location = f"{PREFIX}/"
    if isinstance(target, str) and target.startswith(f"{PREFIX}/") and "//" not in target:
        location = target
    response = Redirect(location, status_code=303)
    response.cookies.append(_cookie(request, cookie, ctx.settings.ui_session_hours))
    return response


@post("/sign-out", include_in_schema=False)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    await change(request)
    response = back(f"{PREFIX}/sign-in", message="You are signed out.")
    response.cookies.append(_cookie(request, "", 0))
    return response


def _cookie(request: Request[Any, Any, Any], value: str, hours: float) -> Cookie:
    # Secure whenever the browser came over https, directly or through a proxy that says so.
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return Cookie(
        key=session.COOKIE,
        value=value,
        path=PREFIX,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="strict",
        secure=https,
    )


# -- library ----------------------------------------------------------------------------------


@get("/", include_in_schema=False, name="ui-library")
async def library(request: Request[Any, Any, Any]) -> Template:
    found = page_session(request)
    ctx = context_of(request)
    params = request.query_params
    search = (params.get("q") or "").strip()
    sort = params.get("sort") or views.DEFAULT_SORT
    sort = sort if sort in views.SORTS else views.DEFAULT_SORT
    skip = int(params["skip"]) if (params.get("skip") or "").isdigit() else 0
    problem = None
    items: list[Any] = []
    more = False
    folder_path = safe_folder(params.get("path") or "/")
    try:
        # A search covers the whole library; browsing lists one folder.
        wanted = {"type": "all", "sort": sort, "skip": str(skip), "limit": str(PAGE_SIZE + 1)}
        wanted.update({"searchQuery": search} if search else {"path": folder_path})
        query = list_query(wanted)
        found_items, counts = await run(_load_library, ctx, query)
        more = len(found_items) > PAGE_SIZE
        urls = media_urls(ctx)
        items = [views.grid_item(item, urls, counts) for item in found_items[:PAGE_SIZE]]
    except InvalidRequest as exc:
        problem = exc.message  # shown beside the search field
    page_params = {"path": folder_path, "q": search, "sort": sort}
    return Template(
        "library.html",
        context={
            **common(request, found),
            "folder_path": folder_path,
            "crumbs": views.breadcrumbs(folder_path),
            "search": search,
            "search_error": problem,
            "sort": sort,
            "sorts": views.SORTS,
            "items": items,
            "skip": skip,
            "previous_url": _page_url(page_params, max(0, skip - PAGE_SIZE)) if skip else None,
            "next_url": _page_url(page_params, skip + PAGE_SIZE) if more else None,
            "public_key": ctx.public_key,
        },
    )


def _load_library(ctx: AppContext, query: Any) -> tuple[list[FileVersion | Folder], dict[str, int]]:
    found = assets.list_assets(ctx.stores, query)
    ids = [item.file.id for item in found[:PAGE_SIZE] if isinstance(item, FileVersion)]
    return found, assets.version_counts(ctx.stores, ids)


def _page_url(params: dict[str, str], skip: int) -> str:
    kept = {k: v for k, v in params.items() if v and not (k == "path" and v == "/")}
    return f"{PREFIX}/?{urlencode({**kept, 'skip': str(skip)})}"


@post("/folders", include_in_schema=False)
async def create_folder(request: Request[Any, Any, Any]) -> Redirect:
    fields = await change(request)
    parent = fields.get("parent") or "/"
    try:
        name = fields.get("name") or ""
        folder = await run(assets.create_folder, context_of(request).stores, name, parent)
    except MediaVaultError as exc:
        return back(library_url(safe_folder(parent)), error=exc.message)
    return back(library_url(safe_folder(parent)), message=f"Folder {folder.name} created.")


@post("/folders/delete", include_in_schema=False)
async def delete_folder(request: Request[Any, Any, Any]) -> Redirect:
    fields = await change(request)
    path = safe_folder(fields.get("path") or "/")
    parent = views.breadcrumbs(path)[-2].path if path != "/" else "/"
    try:
        await run(assets.delete_folder, context_of(request).stores, path)
    except MediaVaultError as exc:
        return back(library_url(parent), error=exc.message)
    return back(library_url(parent), message=f"Folder {path} deleted.")


def safe_folder(path: str) -> str:
    try:
        return normalize_folder(path)
    except InvalidRequest:
        return "/"


@post("/upload-auth", include_in_schema=False, status_code=200)
async def upload_auth_proof(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A single-use V1 proof for one upload from this page: the key never reaches the page."""
    await change(request)
    ctx = context_of(request)
    token, expire = str(uuid.uuid4()), str(int(time.time()) + UPLOAD_PROOF_SECONDS)
    return {
        "publicKey": ctx.public_key,
        "token": token,
        "expire": expire,
        "signature": upload_auth.signature_v1(ctx.private_key, token, expire),
    }


def to_sign_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"{PREFIX}/sign-in?{urlencode({'next': target})}", status_code=303)


HANDLERS = [
    sign_in_page,
    sign_in,
    sign_out,
    library,
    create_folder,
    delete_folder,
    upload_auth_proof,
]


# Pages carry the CSRF token: never cached, never framed (a framed page could be clicked
# through its confirmation dialogs), and nothing loaded or posted outside this server.
SECURITY_HEADERS = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]
