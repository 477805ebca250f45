"""The fast path for the hottest reads answers exactly as the Litestar routes behind it do."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import ANY
from urllib.parse import urlsplit

import httpx
import pytest
from imagekitio import ImageKit
from litestar import Litestar
from litestar.testing import TestClient

from mediavault.api.app import create_app
from mediavault.api.errors import HELP, INTERNAL_ERROR
from mediavault.api.fast_reads import FastReads
from tests.faults import execute_sql
from tests.server_log import LogCursor, LogRecord
from tests.support import TEST_KEY, ServerProcess, free_port

UNKNOWN_ID = "0123456789abcdef01234567"


def litestar_only(server: ServerProcess) -> Litestar:
    """The same app without the middlewares in front of Litestar, on the server's data."""
    app = create_app(server.settings)
    while not isinstance(app, Litestar):
        app = app.app  # type: ignore[attr-defined]
    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    process = ServerProcess(data=tmp_path_factory.mktemp("fast") / "data", port=free_port())
    yield process.start()
    process.stop()


def test_fast_reads_match_the_litestar_routes(
    server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    first = client.files.upload(
        file=b"one", file_name="f.txt", tags=["a"], use_unique_file_name=False
    )
    client.files.upload(file=b"two", file_name="f.txt", use_unique_file_name=False)
    assert first.file_id and first.version_info and first.version_info.id
    rich = _a_file_with_every_field(client, make_image)
    paths = [
        f"/v1/files/{first.file_id}/details",
        f"/v1/files/{first.file_id}/versions",
        f"/v1/files/{first.file_id}/versions/{first.version_info.id}",
        f"/v1/files/{rich}/details",
        f"/v1/files/{rich}/versions",
        *(f"/v1/files/{rich}/versions/{v.version_info.id}" for v in _versions(client, rich)),
        # Errors fall through to Litestar on both sides.
        f"/v1/files/{UNKNOWN_ID}/details",
        f"/v1/files/{first.file_id}/versions/{UNKNOWN_ID}",
        "/v1/files/not-an-id/versions",
    ]
    with TestClient(app=litestar_only(server)) as reference:
        for path in paths:
            for auth in [(TEST_KEY, ""), (TEST_KEY, "do_not_set"), ("private_wrong", ""), None]:
                fast = httpx.get(server.base_url + path, auth=auth)
                slow = reference.get(path, auth=auth)
                assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), path
                assert fast.headers["content-type"] == slow.headers["content-type"]
                assert fast.headers.get("etag") == slow.headers.get("etag"), path
                assert ("etag" in fast.headers) == (fast.status_code == 200), path
                assert fast.headers["x-ik-requestid"]
    listed = httpx.get(f"{server.base_url}/v1/files/{rich}/versions", auth=(TEST_KEY, "")).json()
    assert [(v["isPublished"], v["isPrivateFile"], v.get("hasAlpha")) for v in listed] == [
        (True, True, True), (False, False, False), (True, False, None),
    ]  # fmt: skip
    assert listed[0]["customMetadata"] == {"price": 3.5} and listed[0]["tags"] == ["after"]


def _a_file_with_every_field(client: ImageKit, make_image: Callable[..., bytes]) -> str:
    """Versions that differ in every field the File object shows; the current one is restored
    from an older one, so it is not the newest number (the list still shows it first)."""
    client.custom_metadata_fields.create(name="price", label="price", schema={"type": "Number"})
    first = client.files.upload(
        file=make_image(30, 20, "PNG", (1, 2, 3, 4)),
        file_name="rich b.png",
        folder="/a folder",
        use_unique_file_name=False,
        tags=["t1", "t2"],
        custom_metadata={"price": 3.5},
        description='a "quoted" description',
        custom_coordinates="1,2,3,4",
        is_private_file=True,
    )
    client.files.upload(
        file=b"plain text", file_name="rich b.png", folder="/a folder", use_unique_file_name=False
    )
    client.files.upload(
        file=make_image(8, 8),
        file_name="rich b.png",
        folder="/a folder",
        use_unique_file_name=False,
    )
    assert first.file_id and first.version_info and first.version_info.id
    client.files.update(first.file_id, publish={"is_published": False})
    client.files.versions.restore(first.version_info.id, file_id=first.file_id)
    client.files.update(first.file_id, tags=["after"], description="changed")
    names = [v.version_info.name for v in _versions(client, first.file_id) if v.version_info]
    assert names == ["Version 1", "Version 3", "Version 2"]
    return first.file_id


def _versions(client: ImageKit, file_id: str) -> list[Any]:
    return list(client.files.versions.list(file_id))


def test_a_query_string_or_another_method_takes_the_full_route(server: ServerProcess) -> None:
    url = f"{server.base_url}/v1/files/{UNKNOWN_ID}/details"
    assert httpx.get(url + "?debug=1", auth=(TEST_KEY, "")).status_code == 400
    assert httpx.post(url, auth=(TEST_KEY, "")).status_code == 404
    assert httpx.get(url).status_code == 401


def test_a_file_path_with_an_encoded_slash_is_not_misread(
    server: ServerProcess, tmp_path: Path
) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/files/{UNKNOWN_ID}%2Fx/details", auth=(TEST_KEY, "")
    )
    assert response.status_code in (400, 404) and response.json()["message"]


def test_an_unexpected_failure_gets_the_same_answer_and_log_line_on_both_paths(
    tmp_path: Path,
) -> None:
    """A database error in the lookup: the fast path answers it as the Litestar route does."""
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        first = client.files.upload(file=b"one", file_name="f.txt", use_unique_file_name=False)
        assert first.file_id and first.version_info and first.version_info.id
        paths = [
            f"/v1/files/{first.file_id}/versions/{first.version_info.id}",
            f"/v1/files/{first.file_id}/versions",
            f"/v1/files/{first.file_id}/details",
        ]
        # "?&" holds no parameter, so the route takes it, but it is a query string, which the
        # fast path leaves to Litestar.
        for path in paths:
            fast = httpx.get(server.base_url + path, auth=(TEST_KEY, ""))
            slow = httpx.get(server.base_url + path + "?&", auth=(TEST_KEY, ""))
            assert fast.status_code == slow.status_code == 200 and fast.json() == slow.json()

        # The files table: every lookup reads it (a version list answered again from memory
        # reads only the file's revision there: api/answer_cache.py).
        execute_sql(server, "ALTER TABLE files RENAME TO files_gone")
        for path in paths:
            log = LogCursor(server)
            fast = httpx.get(server.base_url + path, auth=(TEST_KEY, ""))
            fast_records = log.records(wait_for="unhandled error")
            slow = httpx.get(server.base_url + path + "?&", auth=(TEST_KEY, ""))
            slow_records = log.records(wait_for="unhandled error")

            assert fast.status_code == slow.status_code == 500
            assert fast.json() == slow.json() == {"message": INTERNAL_ERROR, "help": HELP}
            assert fast.headers["content-type"] == slow.headers["content-type"]
            assert [_summary(r) for r in fast_records] == [_summary(r) for r in slow_records]
            assert [_summary(r) for r in fast_records] == [
                ("ERROR", "mediavault", f"unhandled error on GET {path}", ANY)
            ]
            # The database's own complaint (SQLite / PostgreSQL), whole in the log.
            complaint = re.compile(r'no such table: files|relation "files" does not exist')
            assert complaint.search("\n".join(fast_records[0].traceback))
            # Each answer came from the path it was meant to test.
            assert "fast_reads.py" in "\n".join(fast_records[0].traceback)
            assert "fast_reads.py" not in "\n".join(slow_records[0].traceback)
    finally:
        server.stop()


def _summary(record: LogRecord) -> tuple[str, str, str, str]:
    return record.level, record.logger, record.message, record.exception


# --- delivery: every request under the prefix is answered in front of Litestar -----------------

IGNORED_HEADERS = {"date", "server", "x-ik-requestid", "x-request-id"}
# Several ranges: multipart/byteranges from local disk (Starlette's FileResponse), the whole
# body from an object store (api/ranges.py); HTTP allows either.
SEVERAL_RANGES = 200 if os.environ.get("MEDIAVAULT_TEST_BLOB_URL") else 206


def test_delivery_in_front_of_litestar_answers_as_the_litestar_mount(
    server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    """Status, headers and body alike for every kind of delivery request: the real server (the
    fast path, zero-copy pathsend) against the Litestar app's mount (no pathsend)."""
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)

    def put(content: bytes, name: str, **kw: Any) -> Any:
        return client.files.upload(
            file=content, file_name=name, folder="/parity", use_unique_file_name=False, **kw
        )

    first = put(make_image(64, 48), "p.jpg")
    put(make_image(80, 60), "p.jpg")
    put(os.urandom(300 * 1024), "big.bin")  # above INLINE_MAX: pathsend on the server
    put(b"<!DOCTYPE html><html><body>page</body></html>", "page.html")
    put(b"plain words\n", "notes.txt")
    put(make_image(30, 30), "private.jpg", is_private_file=True)
    hidden = put(b"hidden", "hidden.txt")
    client.files.update(hidden.file_id, publish={"is_published": False})
    current, older = client.files.versions.list(first.file_id)
    assert current.url and older.url
    plain = "/media/parity/p.jpg"
    first_answer = httpx.get(server.base_url + plain)
    etag, last_modified = first_answer.headers["etag"], first_answer.headers["last-modified"]
    signed = client.helper.build_url(
        src="/parity/private.jpg", url_endpoint=server.url_endpoint, signed=True
    )
    requests: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", plain, {}, 200),
        ("HEAD", plain, {}, 200),
        ("GET", _relative(current.url), {}, 200),
        ("GET", _relative(older.url), {}, 200),
        ("HEAD", _relative(older.url), {}, 200),
        ("GET", plain, {"If-None-Match": etag}, 304),
        ("HEAD", plain, {"If-None-Match": f'"other", W/{etag}'}, 304),
        ("GET", plain, {"If-None-Match": '"other"', "If-Modified-Since": last_modified}, 200),
        ("GET", plain, {"If-Modified-Since": last_modified}, 304),
        ("GET", plain, {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 200),
        ("GET", plain, {"If-Modified-Since": "not a date"}, 200),
        ("GET", plain, {"Range": "bytes=10-19"}, 206),
        ("GET", plain, {"Range": "bytes=-5"}, 206),
        ("GET", plain, {"Range": "bytes=0-1,4-5"}, SEVERAL_RANGES),
        ("GET", plain, {"Range": "bytes=99999999-"}, 416),
        ("GET", plain, {"Range": "bytes=5-19", "If-Range": '"other"'}, 200),
        ("GET", plain, {"Range": "bytes=5-19", "If-Range": etag}, 206),
        ("GET", "/media/parity/big.bin", {}, 200),
        ("HEAD", "/media/parity/big.bin", {}, 200),
        ("GET", "/media/parity/big.bin", {"Range": "bytes=100000-200000"}, 206),
        ("GET", "/media/parity/page.html", {}, 200),
        ("GET", "/media/parity/notes.txt", {}, 200),
        ("GET", _relative(current.thumbnail or ""), {}, 200),
        ("GET", "/media/tr:n-ik_ml_thumbnail/parity/p.jpg", {}, 200),
        ("GET", plain + "?tr=w-100", {}, 200),
        ("GET", plain + "?tr=w-100,foo-1", {}, 400),
        ("GET", "/media/parity/private.jpg", {}, 401),
        ("GET", _relative(signed), {}, 200),
        ("GET", "/media/parity/hidden.txt", {}, 404),
        ("GET", "/media/parity/none.jpg", {}, 404),
        ("GET", plain + "?ik-obj-version=0123456789abcdef", {}, 404),
        ("GET", "/media/parity/p.jpg%00", {}, 404),
        ("POST", plain, {}, 404),
        ("DELETE", plain, {}, 404),
        ("OPTIONS", plain, {}, 404),
    ]
    with TestClient(app=litestar_only(server)) as reference:
        for method, path, headers, status in requests:
            fast = httpx.request(method, server.base_url + path, headers=headers)
            slow = reference.request(method, path, headers=headers)
            case = f"{method} {path} {headers}"
            assert fast.status_code == slow.status_code == status, case
            assert _comparable(fast) == _comparable(slow), case
            assert fast.headers["x-ik-requestid"]


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _comparable(response: httpx.Response) -> tuple[dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in IGNORED_HEADERS}
    body = response.content
    boundary = re.search(r"boundary=(\w+)", headers.get("content-type", ""))
    if boundary:  # multipart ranges: a random boundary per response
        headers["content-type"] = headers["content-type"].replace(boundary[1], "B")
        body = body.replace(boundary[1].encode(), b"B")
    return headers, body


def test_deliveries_never_reach_litestar_unless_a_route_shares_the_prefix(
    server: ServerProcess,
) -> None:
    async def litestar(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError(f"reached Litestar: {scope['path']}")

    async def deliver(prefix: str) -> list[int]:
        settings = dataclasses.replace(server.settings, delivery_prefix=prefix)
        app = create_app(settings)
        fast = app.app  # type: ignore[attr-defined]  # RequestIdMiddleware(FastReads(Litestar))
        assert isinstance(fast, FastReads)
        reaches_litestar = fast._delivery is None
        fast.app = litestar
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            statuses = []
            for path in ("/parity/none.jpg", "/%2e%2e/x", "/"):
                try:
                    statuses.append((await client.get(prefix + path)).status_code)
                except AssertionError:
                    assert reaches_litestar
                    statuses.append(-1)
            return statuses

    assert asyncio.run(deliver("/media")) == [404, 404, 404]
    assert asyncio.run(deliver("/v1")) == [-1, -1, -1]  # /v1/files/... routes live there
