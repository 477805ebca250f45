"""Upload by URL: streamed from a real HTTP server, with limits and timeouts; and, with the
default settings, no URL that reaches an inner address (loopback, private, link-local, cloud
metadata, ...) is ever fetched.

How each check works (resolve once, vet every address, dial only that address, every
redirect hop) is tested in tests/unit/test_url_fetch_pinning.py, with an injected resolver.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from tests.support import (
    TEST_KEY,
    ServerProcess,
    check_invariants,
    free_port,
    staging_count,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class Origin(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []  # every path asked for, across the module

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path == "/file.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/file.bin")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def url_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "MEDIAVAULT_URL_UPLOAD_ALLOW_PRIVATE": "true",
        "MEDIAVAULT_URL_UPLOAD_TIMEOUT_SECONDS": "1",
        "MEDIAVAULT_MAX_UPLOAD_BYTES": str(4 * 1024 * 1024),
    }
    data = tmp_path_factory.mktemp("url") / "data"
    server = ServerProcess(data=data, port=free_port(), env=env).start()
    yield server
    server.stop()


def upload_url(server: ServerProcess, url: str, name: str = "remote.bin") -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=(TEST_KEY, ""),
        files=[
            ("fileName", (None, name)),
            ("useUniqueFileName", (None, "false")),
            ("file", (None, url)),
        ],
        timeout=30,
    )


def test_a_url_is_fetched_into_a_new_file_then_a_new_version(
    url_server: ServerProcess, origin: str
) -> None:
    first = upload_url(url_server, f"{origin}/file.bin")
    assert first.status_code == 200, first.text
    assert first.json()["size"] == len(PAYLOAD)
    assert httpx.get(first.json()["url"]).content == PAYLOAD
    second = upload_url(url_server, f"{origin}/moved")
    assert second.status_code == 200
    assert second.json()["versionInfo"]["name"] == "Version 2"
    check_invariants(url_server)


@pytest.mark.parametrize(
    ("path", "why"),
    [("/missing", "answered 404"), ("/huge", "The file size exceeds limits")],
)
def test_failed_downloads_are_400_and_store_nothing(
    url_server: ServerProcess, origin: str, path: str, why: str
) -> None:
    response = upload_url(url_server, origin + path, name="failed.bin")
    assert response.status_code == 400
    assert why in response.json()["message"]
    assert staging_count(url_server) == 0


def test_a_silent_origin_times_out(url_server: ServerProcess) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        response = upload_url(url_server, f"http://127.0.0.1:{port}/x", name="slow.bin")
    assert response.status_code == 400
    assert "did not answer in time" in response.json()["message"]


def test_schemes_other_than_http_are_refused(url_server: ServerProcess, tmp_path: Path) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x"):
        response = upload_url(url_server, url)
        assert response.status_code == 400
        assert "Only http and https" in response.json()["message"]


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """MEDIAVAULT_URL_UPLOAD_ALLOW_PRIVATE left at its default; a short timeout so that an
    address that slipped through fails fast with a message the tests do not accept."""
    data = tmp_path_factory.mktemp("url-default") / "data"
    env = {"MEDIAVAULT_URL_UPLOAD_TIMEOUT_SECONDS": "2"}
    server = ServerProcess(data=data, port=free_port(), env=env).start()
    assert server.settings.url_upload_allow_private is False
    yield server
    server.stop()


INNER_HOSTS = {
    "loopback": "127.0.0.1",
    "loopback by name": "localhost",
    "loopback, IPv6": "[::1]",
    "loopback, decimal": "2130706433",
    "loopback, IPv4-mapped IPv6": "[::ffff:127.0.0.1]",
    "private 10/8": "10.0.0.1",
    "private 172.16/12": "172.16.0.1",
    "private 192.168/16": "192.168.1.1",
    "private, IPv6 unique local": "[fd00::1]",
    "cloud metadata": "169.254.169.254",
    "cloud metadata, IPv6": "[fd00:ec2::254]",
    "cloud metadata, Oracle": "192.0.0.192",
    "unspecified": "0.0.0.0",
    "multicast": "224.0.0.1",
    "link-local IPv6": "[fe80::1]",
    "carrier-grade NAT": "100.64.0.1",
}


@pytest.mark.parametrize("host", INNER_HOSTS.values(), ids=INNER_HOSTS.keys())
def test_each_kind_of_inner_address_is_refused_by_default(
    default_server: ServerProcess, origin: str, host: str
) -> None:
    port = origin.rsplit(":", 1)[1]
    before = len(Origin.requests)
    response = upload_url(default_server, f"http://{host}:{port}/file.bin", name="inner.bin")
    assert response.status_code == 400, response.text
    assert response.json() == {
        "message": "Your request contains invalid file parameter. The file could not be "
        "downloaded from the URL: the host is not a public address.",
        "help": "See docs/errors.md in the mediavault documentation.",
    }
    # Refused before connecting: the origin listening on 127.0.0.1 heard nothing.
    assert len(Origin.requests) == before
    assert staging_count(default_server) == 0


def test_a_name_that_does_not_resolve_is_a_clean_400(default_server: ServerProcess) -> None:
    response = upload_url(default_server, "http://no-such-host.invalid/x.bin", name="none.bin")
    assert response.status_code == 400
    assert "the host name does not resolve" in response.json()["message"]
