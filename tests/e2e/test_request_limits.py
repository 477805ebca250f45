"""Bodies too large for memory: every JSON route keeps Litestar's body limit (a 413 in ImageKit's
shape before the body is held), and the streamed upload bounds its non-file fields itself."""

from __future__ import annotations

import contextlib
import re
import socket
import threading

import httpx
import psutil

from tests.server_log import LogCursor
from tests.support import TEST_KEY, ServerProcess

HELP = "See docs/errors.md in the mediavault documentation."
# Litestar's default request_max_body_size is 10,000,000 bytes.
OVER_THE_LIMIT = 12 * 1024 * 1024


def json_operations(server: ServerProcess) -> list[tuple[str, str]]:
    """Every operation the server documents with a JSON body, path parameters filled in."""
    document = httpx.get(f"{server.base_url}/docs/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "a" * 24, path)))
    return found


def test_the_document_lists_the_json_routes(server: ServerProcess) -> None:
    operations = json_operations(server)
    assert ("POST", "/v1/files/addTags") in operations
    assert len(operations) >= 12


def test_a_declared_oversized_json_body_is_a_413_on_every_json_route(
    server: ServerProcess,
) -> None:
    body = b'{"fileIds": ["' + b"a" * OVER_THE_LIMIT + b'"], "tags": ["x"]}'
    for method, path in json_operations(server):
        response = httpx.request(
            method,
            f"{server.base_url}{path}",
            auth=(TEST_KEY, ""),
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 413, (method, path, response.text)
        assert response.json()["help"] == HELP
        assert response.json()["message"]


def _chunked_post(server: ServerProcess, path: str, total: int) -> bytes:
    """POST up to `total` bytes with no Content-Length, 1 MiB a chunk, until the server answers;
    the answer's head."""
    auth = httpx.BasicAuth(TEST_KEY, "")
    request = next(auth.auth_flow(httpx.Request("POST", "http://x/")))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {request.headers['authorization']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b"[" * (1024 * 1024))
    answered = threading.Event()

    def send_body(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the server may close once it has answered
            for _ in range(total // (1024 * 1024)):
                if answered.is_set():
                    return
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")

    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head)
        sender = threading.Thread(target=send_body, args=(sock,))
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        answered.set()
        with contextlib.suppress(OSError):  # already closed by the server
            sock.shutdown(socket.SHUT_RDWR)
        sender.join()
    return answer


def test_a_chunked_json_body_is_cut_off_at_the_limit_without_holding_it(
    server: ServerProcess,
) -> None:
    workers = [psutil.Process(pid) for pid in server.worker_pids()]
    assert workers
    _chunked_post(server, "/v1/files/addTags", 20 * 1024 * 1024)  # warm up the allocator
    before = sum(p.memory_info().rss for p in workers)
    for _ in range(3):
        answer = _chunked_post(server, "/v1/files/addTags", 200 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    grown = sum(p.memory_info().rss for p in workers) - before
    # 600 MiB were offered; the server held at most its 10 MB limit of it at a time.
    assert grown < 60 * 1024 * 1024, grown


def test_a_client_that_hangs_up_mid_body_is_not_a_server_fault(server: ServerProcess) -> None:
    """Litestar reports the disconnect as an internal error; it is the client's doing."""
    cursor = LogCursor(server)
    auth = httpx.BasicAuth(TEST_KEY, "")
    request = next(auth.auth_flow(httpx.Request("POST", "http://x/")))
    head = (
        "POST /v1/files/addTags HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {request.headers['authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b'{"fileIds": ["')
    records = cursor.records(wait_for="client disconnected before its body ended")
    assert [r for r in records if r.level == "ERROR"] == []
    assert any(r.level == "INFO" and "addTags" in r.message for r in records)
