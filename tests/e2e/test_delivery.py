"""Delivery of version bytes by URL: ranges, validators, thumbnails and signed private URLs."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from imagekitio import ImageKit
from PIL import Image

from mediavault.api.errors import HELP, INTERNAL_ERROR
from mediavault.errors import BlobMissing, StorageUnavailable
from mediavault.wiring import build_blob_store
from tests.faults import TcpProxy, execute_sql
from tests.server_log import LogCursor
from tests.support import TEST_KEY, ServerProcess, free_port, sql


def put(client: ImageKit, content: bytes, folder: str, name: str = "d.jpg", **kw: object):
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def test_range_head_etag_and_caching_headers(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    v1, v2 = make_image(100, 80), make_image(90, 70)
    put(client, v1, folder)
    second = put(client, v2, folder)
    versions = client.files.versions.list(second.file_id)
    current, older = versions

    full = httpx.get(current.url)
    assert full.status_code == 200 and full.content == v2
    assert full.headers["content-type"] == "image/jpeg"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.headers["x-content-type-options"] == "nosniff"
    etag = full.headers["etag"]

    plain = httpx.get(current.url.split("?")[0])
    assert plain.content == v2
    assert plain.headers["cache-control"] == "public, max-age=0, must-revalidate"

    old = httpx.get(older.url)
    assert old.content == v1 and old.headers["etag"] != etag
    assert old.headers["cache-control"] == "public, max-age=31536000, immutable"

    partial = httpx.get(current.url, headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206
    assert partial.content == v2[10:20]
    assert partial.headers["content-range"] == f"bytes 10-19/{len(v2)}"
    tail = httpx.get(older.url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == v1[-5:]

    not_modified = httpx.get(current.url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert httpx.get(current.url, headers={"If-None-Match": '"other"'}).status_code == 200

    head = httpx.head(current.url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(v2))


def test_if_modified_since_follows_the_version_a_url_names(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    v1, v2 = make_image(10, 10), make_image(12, 12)
    first = put(client, v1, folder)
    put(client, v2, folder)
    plain = client.files.get(first.file_id).url.split("?")[0]
    response = httpx.get(plain)
    last_modified = response.headers["last-modified"]
    updated_at = client.files.get(first.file_id).updated_at
    assert updated_at is not None
    assert parsedate_to_datetime(last_modified) == updated_at.replace(microsecond=0)
    assert httpx.get(plain, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert httpx.get(plain, headers={"If-Modified-Since": earlier}).content == v2
    assert httpx.head(plain, headers={"If-Modified-Since": last_modified}).status_code == 304
    # If-None-Match decides when both are sent (RFC 9110 §13.2.2).
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"other"'}
    assert httpx.get(plain, headers=both).status_code == 200

    # A restore puts older bytes at the plain URL: Last-Modified moves on, so a client holding
    # the newer bytes gets the restored ones, not a 304.
    time.sleep(1.1)
    client.files.versions.restore(first.file_id, file_id=first.file_id)
    again = httpx.get(plain, headers={"If-Modified-Since": last_modified})
    assert again.status_code == 200 and again.content == v1
    assert parsedate_to_datetime(again.headers["last-modified"]) > parsedate_to_datetime(
        last_modified
    )


def test_small_large_and_text_bodies(client: ImageKit, folder: str, server: ServerProcess) -> None:
    """Bodies up to 64 KiB are read by the handler, larger ones sent by the server (pathsend)."""
    for size in (1, 64 * 1024, 64 * 1024 + 1, 700 * 1024):
        content = os.urandom(size)
        uploaded = put(client, content, folder, name=f"b{size}.bin")
        url = f"{server.url_endpoint}{folder}/b{size}.bin"
        response = httpx.get(url)
        assert response.status_code == 200 and response.content == content, size
        assert response.headers["content-length"] == str(size)
        assert response.headers["accept-ranges"] == "bytes"
        head = httpx.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(size)
        assert uploaded.file_id
    put(client, b"words\n", folder, name="t.txt")
    text = httpx.get(f"{server.url_endpoint}{folder}/t.txt")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.content == b"words\n"
    several = httpx.get(f"{server.url_endpoint}{folder}/t.txt", headers={"Range": "bytes=0-1,3-4"})
    if os.environ.get("MEDIAVAULT_TEST_BLOB_URL"):  # an object store sends the whole body
        assert several.status_code == 200 and several.content == b"words\n"
    else:
        assert several.status_code == 206
        assert several.headers["content-type"].startswith("multipart/byteranges; boundary=")


def test_a_restored_version_moves_to_the_plain_url(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    v1, v2 = make_image(10, 10), make_image(20, 20)
    first = put(client, v1, folder)
    put(client, v2, folder)
    plain = client.files.get(first.file_id).url.split("?")[0]
    assert httpx.get(plain).content == v2
    client.files.versions.restore(first.file_id, file_id=first.file_id)
    assert httpx.get(plain).content == v1
    older = client.files.versions.list(first.file_id)[1]
    assert httpx.get(older.url).content == v2


def test_non_images_get_their_sniffed_type(client: ImageKit, folder: str) -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    result = put(client, pdf, folder, name="doc.pdf")
    details = client.files.get(result.file_id)
    assert details.mime == "application/pdf" and details.file_type == "non-image"
    assert details.width is None and details.has_alpha is None
    response = httpx.get(details.url)
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == pdf


def test_thumbnails_in_query_and_path_form(
    client: ImageKit, folder: str, data: Path, make_image: Callable[..., bytes]
) -> None:
    original = make_image(800, 600)
    uploaded = put(client, original, folder, name="big.jpg")
    details = client.files.get(uploaded.file_id)
    by_query = httpx.get(details.thumbnail)
    assert by_query.status_code == 200 and by_query.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(by_query.content))
    assert max(thumb.size) == 200 and thumb.size == (200, 150)
    by_path = httpx.get(uploaded.thumbnail_url)
    assert by_path.content == by_query.content
    cached = list((data.data / "cache" / "renditions").rglob("*.jpg"))
    assert len([p for p in cached if p.read_bytes() == by_query.content]) == 1
    again = httpx.get(details.thumbnail, headers={"If-None-Match": by_query.headers["etag"]})
    assert again.status_code == 304

    put(client, make_image(30, 30), folder, name="big.jpg")
    older = client.files.versions.list(uploaded.file_id)[1]
    old_thumb = httpx.get(older.thumbnail)
    assert old_thumb.status_code == 200 and old_thumb.content == by_query.content


def test_non_images_get_a_placeholder_thumbnail(client: ImageKit, folder: str) -> None:
    uploaded = put(client, b"just some text", folder, name="notes.txt")
    details = client.files.get(uploaded.file_id)
    response = httpx.get(details.thumbnail)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (200, 200)


def test_unknown_transformations_are_refused_not_ignored(
    client: ImageKit, folder: str, server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    put(client, make_image(), folder, name="t.jpg")
    response = httpx.get(f"{server.base_url}/media{folder}/t.jpg?tr=w-100,foo-1")
    assert response.status_code == 400
    assert response.json()["message"] == "Bad Image Transformation Request"
    assert response.headers["ik-error"] == "EINVALID - unknown transformation parameter 'foo'"
    resized = httpx.get(f"{server.base_url}/media{folder}/t.jpg?tr=w-100")
    assert resized.status_code == 200 and Image.open(io.BytesIO(resized.content)).width == 100


def test_missing_paths_and_methods_on_delivery(server: ServerProcess, folder: str) -> None:
    assert httpx.get(f"{server.base_url}/media{folder}/none.jpg").status_code == 404
    assert httpx.get(f"{server.base_url}/media/").status_code == 404
    assert httpx.post(f"{server.base_url}/media{folder}/none.jpg").status_code == 404


def test_private_files_need_a_signature_the_sdk_made(
    client: ImageKit, folder: str, server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    secret = make_image(64, 64)
    first = put(client, secret, folder, name="private.jpg", is_private_file=True)
    put(client, make_image(65, 65), folder, name="private.jpg", is_private_file=True)
    endpoint = server.url_endpoint
    versions = client.files.versions.list(first.file_id)
    assert all(v.is_private_file for v in versions)
    older = versions[1]

    assert httpx.get(older.url).status_code == 401
    assert httpx.get(older.thumbnail).status_code == 401

    signed = client.helper.build_url(src=older.url, url_endpoint=endpoint, signed=True)
    response = httpx.get(signed)
    assert response.status_code == 200 and response.content == secret
    assert response.headers["cache-control"].startswith("private")

    expiring = client.helper.build_url(src=older.url, url_endpoint=endpoint, expires_in=300)
    assert "ik-t=" in expiring and httpx.get(expiring).content == secret

    relative = client.helper.build_url(
        src=f"{folder}/private.jpg", url_endpoint=endpoint, signed=True
    )
    assert httpx.get(relative).status_code == 200

    thumb = client.helper.build_url(
        src=f"{folder}/private.jpg",
        url_endpoint=endpoint,
        signed=True,
        transformation=[{"named": "ik_ml_thumbnail"}],
        transformation_position="path",
    )
    assert httpx.get(thumb).headers["content-type"] == "image/jpeg"

    tampered = signed.replace(f"{folder}/private.jpg", f"{folder}/private.jpg/").replace(
        "ik-s=", "ik-s=0"
    )
    assert httpx.get(tampered).status_code in (401, 404)
    assert httpx.get(signed[:-1] + ("0" if signed[-1] != "0" else "1")).status_code == 401

    other_key = ImageKit(private_key="private_other", base_url=server.base_url)
    forged = other_key.helper.build_url(src=older.url, url_endpoint=endpoint, signed=True)
    assert httpx.get(forged).status_code == 401


def test_expired_signatures_are_refused(
    client: ImageKit, folder: str, server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    from mediavault.domain.signing import sign

    put(client, make_image(), folder, name="gone.jpg", is_private_file=True)
    relative = f"{folder.lstrip('/')}/gone.jpg"
    past = str(int(time.time()) - 10)
    url = f"{server.url_endpoint}/{relative}?ik-t={past}&ik-s={sign(TEST_KEY, relative, past)}"
    response = httpx.get(url)
    assert response.status_code == 401
    assert response.json()["help"] == HELP
    future = str(int(time.time()) + 60)
    url = f"{server.url_endpoint}/{relative}?ik-t={future}&ik-s={sign(TEST_KEY, relative, future)}"
    assert httpx.get(url).status_code == 200


def test_active_content_cannot_script_our_origin(client: ImageKit, folder: str) -> None:
    page = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = put(client, page, folder, name="page.html")
    image = put(client, svg, folder, name="drawing.svg")
    as_page = httpx.get(client.files.get(html.file_id).url)
    assert as_page.headers["content-type"].startswith("text/html")
    assert as_page.headers["content-disposition"] == "attachment"
    as_svg = httpx.get(client.files.get(image.file_id).url)
    assert as_svg.headers["content-type"] == "image/svg+xml"
    for response in (as_page, as_svg):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]


# --- server faults: 500/503 in ImageKit's shape and a log line, never a 400 --------------------


@pytest.fixture(scope="module")
def lone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: these tests break its library, which the shared one must not see."""
    process = ServerProcess(data=tmp_path_factory.mktemp("faults") / "data", port=free_port())
    yield process.start()
    process.stop()


def test_a_missing_blob_is_a_500_and_logged(
    lone_server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=lone_server.base_url, max_retries=0)
    first = put(client, make_image(50, 40), "/gone")
    put(client, make_image(60, 40), "/gone")
    older, current = (client.files.versions.list(first.file_id)[i] for i in (1, 0))
    digest = _digest_of(lone_server, older.version_info.id)
    build_blob_store(lone_server.settings).delete(digest)
    assert httpx.get(current.url).status_code == 200  # other bytes are untouched

    for url in (older.url, older.thumbnail):
        log = LogCursor(lone_server)
        response = httpx.get(url)
        assert response.status_code == 500, response.text
        assert response.json() == {"message": BlobMissing.message, "help": HELP}
        path = urlsplit(url).path
        [record] = [r for r in log.records(wait_for="request failed") if r.level == "ERROR"]
        assert record.message.startswith(f"request failed on GET {path}: ")
        assert digest in record.message  # the operator learns which blob; the client does not
        assert digest not in response.text


def test_a_database_failure_during_delivery_is_a_500_and_logged(
    lone_server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=lone_server.base_url, max_retries=0)
    uploaded = put(client, make_image(), "/schema", name="s.jpg")
    execute_sql(lone_server, "ALTER TABLE files RENAME TO files_gone")
    try:
        log = LogCursor(lone_server)
        response = httpx.get(uploaded.url)
        assert response.status_code == 500
        assert response.json() == {"message": INTERNAL_ERROR, "help": HELP}
        records = log.records(wait_for="unhandled error")
        assert [r.message for r in records] == [
            f"unhandled error on GET {urlsplit(uploaded.url).path}"
        ]
    finally:
        execute_sql(lone_server, "ALTER TABLE files_gone RENAME TO files")
    assert httpx.get(uploaded.url).status_code == 200


@pytest.mark.skipif(
    not os.environ.get("MEDIAVAULT_TEST_BLOB_URL"),
    reason="an unreachable store needs the S3 backend (local disk is never unreachable)",
)
def test_an_unreachable_store_is_a_503_and_logged(
    tmp_path: Path, make_image: Callable[..., bytes]
) -> None:
    proxy = TcpProxy(os.environ["MEDIAVAULT_TEST_S3_ENDPOINT"])
    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_S3_ENDPOINT": proxy.endpoint},
    ).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        uploaded = put(client, make_image(), "/away", name="a.jpg")
        assert httpx.get(uploaded.url).status_code == 200
        proxy.cut()
        log = LogCursor(server)
        response = httpx.get(uploaded.url, timeout=120)  # the store client retries first
        assert response.status_code == 503, response.text
        assert response.json() == {"message": StorageUnavailable.message, "help": HELP}
        records = [r for r in log.records(wait_for="request failed") if r.level == "ERROR"]
        assert [r.message.split(": ")[0] for r in records] == [
            f"request failed on GET {urlsplit(uploaded.url).path}"
        ]
        assert "127.0.0.1" not in response.text  # the store's own error stays in the log
    finally:
        server.stop()


def _digest_of(server: ServerProcess, version_id: str) -> str:
    [(digest,)] = sql(server, f"SELECT blob_digest FROM versions WHERE id = '{version_id}'")
    return str(digest)
