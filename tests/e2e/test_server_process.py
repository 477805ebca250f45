"""Whole-process behaviour: concurrency across workers, large uploads, keys, settings, docs."""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import (
    TEST_KEY,
    ServerProcess,
    check_invariants,
    free_port,
    staging_count,
)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(data=tmp_path / "data", port=free_port(), workers=2).start()
    yield server
    server.stop()


def sdk(server: ServerProcess, key: str = TEST_KEY) -> ImageKit:
    return ImageKit(private_key=key, base_url=server.base_url, max_retries=0, timeout=120)


def test_16_concurrent_uploads_to_one_path_make_16_versions(two_workers: ServerProcess) -> None:
    assert len(two_workers.worker_pids()) >= 2

    def upload(i: int) -> imagekitio.types.FileUploadResponse:
        return sdk(two_workers).files.upload(
            file=f"content number {i}".encode(),
            file_name="race.txt",
            folder="/race",
            use_unique_file_name=False,
        )

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(upload, range(16)))
    file_ids = {r.file_id for r in results}
    assert len(file_ids) == 1
    names = {r.version_info.name for r in results}
    assert names == {f"Version {n}" for n in range(1, 17)}
    assert len({r.version_info.id for r in results}) == 16

    file_id = file_ids.pop()
    client = sdk(two_workers)
    versions = client.files.versions.list(file_id)
    assert len(versions) == 16
    assert [v.type for v in versions].count("file") == 1
    # Every version serves the bytes of its own upload.
    sent = {r.version_info.id: f"content number {i}".encode() for i, r in enumerate(results)}
    for version in versions:
        assert httpx.get(version.url).content == sent[version.version_info.id]
    check_invariants(two_workers)

    # Then restores and deletes race each other across both workers.
    ids = [v.version_info.id for v in versions]
    rng = random.Random(7)
    operations = [(rng.choice(["restore", "delete"]), rng.choice(ids)) for _ in range(48)]

    def act(operation: tuple[str, str]) -> int:
        kind, version_id = operation
        c = sdk(two_workers)
        try:
            if kind == "restore":
                c.files.versions.restore(version_id, file_id=file_id)
            else:
                c.files.versions.delete(version_id, file_id=file_id)
            return 200
        except imagekitio.APIStatusError as exc:
            assert exc.status_code in (400, 404), exc.body
            return exc.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(act, operations))
    assert 200 in statuses
    remaining = client.files.versions.list(file_id)
    assert [v.type for v in remaining].count("file") == 1
    assert len({v.version_info.name for v in remaining}) == len(remaining)
    check_invariants(two_workers)


def test_a_200_mb_upload_round_trips_with_flat_server_memory(tmp_path: Path) -> None:
    import psutil

    size = 200 * 1024 * 1024
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(size // len(block)):
            chunk = block[:-4] + i.to_bytes(4, "big")
            digest.update(chunk)
            f.write(chunk)
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = sdk(server)
        client.files.upload(file=b"warm up", file_name="warm.txt", folder="/big")
        (worker,) = server.worker_pids()
        before = psutil.Process(worker).memory_info().rss
        with open(source, "rb") as f:
            result = client.files.upload(
                file=f, file_name="big.bin", folder="/big", use_unique_file_name=False
            )
        peak = _peak_rss(worker)
        assert result.size == size
        assert peak - before < 64 * 1024 * 1024, f"server grew by {(peak - before) >> 20} MiB"

        received = hashlib.sha256()
        with httpx.stream("GET", result.url, timeout=120) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes(1 << 20):
                received.update(chunk)
        assert received.hexdigest() == digest.hexdigest()
        # The upload was streamed to the data folder, never spooled to /tmp.
        assert not any(p.stat().st_size >= size for p in Path("/tmp").glob("*") if p.is_file())
        check_invariants(server)
    finally:
        server.stop()


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) * 1024


def test_a_generated_key_is_stored_printed_once_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data=data, port=free_port(), private_key=None).start()
    try:
        key = (data / "private_key").read_text().strip()
        assert key.startswith("private_") and len(key) > 20
        assert stat.S_IMODE((data / "private_key").stat().st_mode) == 0o600
        assert first.log().count(key) == 1
        assert sdk(first, key).files.upload(file=b"x", file_name="k.txt").size == 1
        with pytest.raises(imagekitio.PermissionDeniedError):
            sdk(first, TEST_KEY).files.upload(file=b"x", file_name="k.txt")
    finally:
        first.stop()
    second = ServerProcess(data=data, port=free_port(), private_key=None).start()
    try:
        assert key not in second.log()
        assert sdk(second, key).files.upload(file=b"y", file_name="k.txt").size == 1
    finally:
        second.stop()


def test_url_endpoint_setting_moves_every_url(
    tmp_path: Path, make_image: Callable[..., bytes]
) -> None:
    endpoint = "https://cdn.example.com/assets"
    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_URL_ENDPOINT": endpoint + "/", "MEDIAVAULT_DELIVERY_PREFIX": "/files"},
    ).start()
    try:
        client = sdk(server)
        result = client.files.upload(file=make_image(), file_name="e.jpg", folder="/x")
        assert result.url == f"{endpoint}/x/{result.name}"
        assert result.thumbnail_url == f"{endpoint}/tr:n-ik_ml_thumbnail/x/{result.name}"
        details = client.files.get(result.file_id)
        assert details.url.startswith(f"{endpoint}/x/{result.name}?updatedAt=")
        assert details.thumbnail.startswith(f"{endpoint}/x/")
        local = f"{server.base_url}/files/x/{result.name}"
        assert httpx.get(local).status_code == 200
    finally:
        server.stop()


def test_the_app_serves_its_openapi_document_and_docs_page(server: ServerProcess) -> None:
    document = httpx.get(f"{server.base_url}/docs/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    for path in (
        "/api/v1/files/upload",
        "/v1/files/{file_id}/versions",
        "/v1/files/{file_id}/versions/{version_id}",
        "/v1/files/{file_id}/versions/{version_id}/restore",
        "/v1/files/{file_id}/details",
        "/v1/files/{file_id}",
        "/v1/files/batch/deleteByFileIds",
    ):
        assert path in paths, path
    upload = paths["/api/v1/files/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file", "fileName"]
    assert "useUniqueFileName" in upload["schema"]["properties"]
    page = httpx.get(f"{server.base_url}/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_uploads_over_the_size_limit_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    server = ServerProcess(
        data=tmp_path / "data", port=free_port(), env={"MEDIAVAULT_MAX_UPLOAD_BYTES": "4096"}
    ).start()
    try:
        client = sdk(server)
        assert client.files.upload(file=b"x" * 4096, file_name="fits.bin").size == 4096
        with pytest.raises(imagekitio.BadRequestError) as refused:
            client.files.upload(file=b"x" * (3 * 1024 * 1024), file_name="big.bin")
        assert refused.value.body["message"] == (
            "Your request contains invalid file parameter. The file size exceeds limits."
        )
        assert staging_count(server) == 0
        check_invariants(server)
    finally:
        server.stop()


def test_an_upload_that_stalls_is_cancelled_and_leaves_nothing(tmp_path: Path) -> None:
    import base64
    import socket

    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_UPLOAD_IDLE_TIMEOUT_SECONDS": "1"},
    ).start()
    try:
        head = (
            b'--b\r\nContent-Disposition: form-data; name="fileName"\r\n\r\nslow.bin\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="u"\r\n\r\n'
        )
        auth = base64.b64encode(f"{TEST_KEY}:".encode()).decode()
        request = (
            f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len(head) + 10**6}"
            "\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(request + head + b"x" * 1000)  # then nothing more
            answer = sock.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 408"), answer
        assert "the body stopped arriving" in answer
        assert staging_count(server) == 0
        check_invariants(server)
    finally:
        server.stop()


def log_now(server: ServerProcess) -> str:
    return f"{time.strftime('%H:%M:%S')} worker pids {server.worker_pids()}\n{server.log()}"


def test_a_worker_that_crashes_leaves_its_stacks_in_the_log_and_is_replaced(
    tmp_path: Path,
) -> None:
    server = ServerProcess(
        data=tmp_path / "data", port=free_port(), workers=2, worker_deaths_expected=True
    ).start()
    try:
        client = sdk(server)
        stored = client.files.upload(file=b"before", file_name="a.txt", use_unique_file_name=False)
        crashed = server.worker_pids()[0]
        os.kill(crashed, signal.SIGSEGV)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = server.worker_pids()
            if len(workers) == 2 and crashed not in workers:
                break
            time.sleep(0.2)
        assert len(workers) == 2 and crashed not in workers, server.log()
        log = server.log()
        assert "Fatal Python error: Segmentation fault" in log, log
        assert "most recent call first" in log, log  # a stack, not only the signal's name
        assert "Unexpected exit from worker" in log, log
        # The library is untouched, and both workers answer. (Once, in a whole-suite run under
        # load, the server refused connections here: the log, should it happen again.)
        for _ in range(8):
            try:
                assert client.files.get(stored.file_id).size == len(b"before")
            except imagekitio.APIConnectionError as exc:
                message = f"{exc!r} after the worker was replaced:\n{log_now(server)}"
                raise AssertionError(message) from exc
        again = client.files.upload(file=b"after", file_name="a.txt", use_unique_file_name=False)
        assert again.version_info.name == "Version 2"
    finally:
        server.stop()
    check_invariants(server)
