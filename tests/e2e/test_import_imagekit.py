"""`mediavault import-imagekit` from a second mediavault server, filled by the ImageKit SDK."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit
from PIL import Image

from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port, sql

MEDIAVAULT = str(Path(sys.executable).parent / "mediavault")
UNICODE_FOLDER = "/library/ünïcødé"
UNICODE_NAME = "fïlé 名前.txt"


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


def fill(client: ImageKit) -> None:
    """Several versions, a deleted and a restored one, private, unpublished and unicode files,
    custom metadata fields and values, nested and empty folders."""
    client.custom_metadata_fields.create(name="brand", label="Brand", schema={"type": "Text"})
    client.custom_metadata_fields.create(name="price", label="Price", schema={"type": "Number"})

    def put(data: bytes, name: str, folder: str, **options: Any) -> Any:
        return client.files.upload(
            file=data, file_name=name, folder=folder, use_unique_file_name=False, **options
        )

    cat = put(png("red"), "cat.png", "/library/photos", tags=["red"],
              custom_metadata={"brand": "acme", "price": 3}, custom_coordinates="1,2,10,10")  # fmt: skip
    second = put(png("green"), "cat.png", "/library/photos", tags=["green"])
    put(png("blue"), "cat.png", "/library/photos", custom_metadata={"brand": "blue"})
    client.files.versions.delete(second.version_info.id, file_id=cat.file_id)
    client.files.versions.restore(cat.version_info.id, file_id=cat.file_id)
    secret = put(b"secret one", "secret.txt", "/library/private", is_private_file=True)
    put(b"secret two!", "secret.txt", "/library/private", is_private_file=True)
    put(b"draft", "draft.txt", "/library", is_published=False)
    put("ünïcødé bytes".encode(), UNICODE_NAME, UNICODE_FOLDER, tags=["ü"])
    client.folders.create(folder_name="deeper", parent_folder_path="/library/empty")
    put(b"at the root", "root.txt", "/")
    assert secret.file_id


class SlowSource:
    """A proxy before the source's delivery URLs: each request waits `delay` seconds, and
    paths for which `refuse` is true get a 404 (a source that will not give the bytes)."""

    def __init__(self, source: ServerProcess) -> None:
        self.delay = 0.0
        self.refuse: Callable[[str], bool] = lambda path: False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(proxy.delay)
                if proxy.refuse(self.path):
                    self.send_response(404)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                answer = httpx.get(source.base_url + self.path)
                self.send_response(answer.status_code)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url_endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/media"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(data=tmp_path_factory.mktemp("source") / "data", port=free_port())
    server.start()
    fill(ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0))
    yield server
    server.stop()


@pytest.fixture
def proxy(source: ServerProcess) -> Iterator[SlowSource]:
    slow = SlowSource(source)
    yield slow
    slow.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(data=tmp_path / "target", port=free_port()).start()
    yield server
    server.stop()


def import_command(source: ServerProcess, endpoint: str, *extra: str) -> list[str]:
    return [
        "import-imagekit", "--source-api", source.base_url, "--source-key", TEST_KEY,
        "--source-url-endpoint", endpoint, *extra,
    ]  # fmt: skip


def run_import(
    target: ServerProcess, source: ServerProcess, endpoint: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return target.cli_result(*import_command(source, endpoint, *extra))


# -- comparing two libraries through the API ------------------------------------------------


def api(server: ServerProcess, route: str, **params: Any) -> Any:
    answer = httpx.get(server.base_url + route, params=params, auth=(TEST_KEY, ""), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def walk(server: ServerProcess, folder: str = "/") -> Iterator[dict[str, Any]]:
    """Every folder and file below `folder`, as listed."""
    for item in api(server, "/v1/files", type="all", path=folder, limit=1000):
        yield item
        if item["type"] == "folder":
            yield from walk(server, item["folderPath"])


def without_urls(item: dict[str, Any]) -> dict[str, Any]:
    # The URLs' ik-obj-version tokens are the target's own; everything else is kept.
    return {k: v for k, v in item.items() if k not in ("url", "thumbnail")}


def version_bytes(server: ServerProcess, item: dict[str, Any]) -> bytes:
    helper = ImageKit(private_key=TEST_KEY, base_url=server.base_url).helper
    src = item["url"].split("&updatedAt=")[0].split("?updatedAt=")[0]
    url = helper.build_url(src=src, url_endpoint=server.url_endpoint, signed=True)
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200, (url, answer.text)
    return answer.content


def library(server: ServerProcess) -> dict[str, Any]:
    """Fields, folders, and each file's versions (with their bytes), by id."""
    fields = api(server, "/v1/customMetadataFields")
    listed = list(walk(server))
    folders = sorted((i for i in listed if i["type"] == "folder"), key=lambda i: i["folderId"])
    files = {}
    for item in listed:
        if item["type"] == "file":
            versions = api(server, f"/v1/files/{item['fileId']}/versions")
            files[item["fileId"]] = [(without_urls(v), version_bytes(server, v)) for v in versions]
    return {"fields": fields, "folders": folders, "files": files}


# -- the tests -------------------------------------------------------------------------------


def test_a_whole_library_moves_in_with_every_id_version_time_and_byte(
    source: ServerProcess, target: ServerProcess, proxy: SlowSource
) -> None:
    done = run_import(target, source, source.url_endpoint)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 files imported (7 versions" in done.stdout, done.stdout

    before = library(source)
    after = library(target)
    assert after["fields"] == before["fields"]
    assert after["folders"] == before["folders"]
    assert after["files"] == before["files"]
    assert len(after["files"]) == 5
    cat = next(v for v in after["files"].values() if v[0][0]["name"] == "cat.png")
    assert [v["versionInfo"]["name"] for v, _ in cat] == ["Version 1", "Version 3"]
    assert any(f["folderPath"] == "/library/empty/deeper" for f in after["folders"])
    assert any(v[0][0]["isPublished"] is False for v in after["files"].values())
    assert any(  # the server's name rules apply to the name ("fïlé_名前.txt")
        v[0][0]["filePath"].startswith(f"{UNICODE_FOLDER}/fïlé") and "名前" in v[0][0]["name"]
        for v in after["files"].values()
    )

    # Unpublished: no plain URL, on the source as on the target; a signed one works.
    for server in (source, target):
        assert httpx.get(f"{server.url_endpoint}/library/draft.txt").status_code == 404

    again = run_import(target, source, source.url_endpoint)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Nothing to do" in again.stdout
    assert "0 files imported" in again.stdout
    assert library(target) == after
    check_invariants(target)


def test_a_killed_import_resumes_where_it_stopped(
    source: ServerProcess, target: ServerProcess, proxy: SlowSource
) -> None:
    proxy.delay = 0.5
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env.update(target.settings.to_env())
    command = [MEDIAVAULT, *import_command(source, proxy.url_endpoint, "--concurrency", "1")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sql(target, "SELECT count(*) FROM versions")[0][0] < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = sql(target, "SELECT count(*) FROM versions")[0][0]
    assert 2 <= partial < 7

    proxy.delay = 0.0
    resumed = run_import(target, source, proxy.url_endpoint)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"({7 - partial} versions," in resumed.stdout, resumed.stdout
    assert library(target) == library(source)
    check_invariants(target)

    again = run_import(target, source, proxy.url_endpoint)
    assert again.returncode == 0 and "Nothing to do" in again.stdout


def test_a_path_taken_by_another_file_is_a_conflict_reported_not_overwritten(
    source: ServerProcess, target: ServerProcess, proxy: SlowSource
) -> None:
    mine = ImageKit(private_key=TEST_KEY, base_url=target.base_url, max_retries=0)
    taken = mine.files.upload(
        file=b"mine", file_name="root.txt", folder="/", use_unique_file_name=False
    )
    done = run_import(target, source, source.url_endpoint)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "skipped /root.txt: the path is taken in the target by another file" in done.stdout
    assert "4 files imported" in done.stdout
    kept = mine.files.get(taken.file_id)
    assert kept.size == 4 and kept.version_info is not None
    assert kept.version_info.id == taken.version_info.id  # type: ignore[union-attr]
    assert httpx.get(f"{target.url_endpoint}/root.txt").content == b"mine"
    check_invariants(target)


def test_a_file_whose_bytes_the_source_refuses_is_skipped_with_the_reason(
    source: ServerProcess, target: ServerProcess, proxy: SlowSource
) -> None:
    proxy.refuse = lambda path: "secret.txt" in path
    done = run_import(target, source, proxy.url_endpoint)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "skipped /library/private/secret.txt: the source refused (404" in done.stdout
    assert "4 files imported" in done.stdout

    proxy.refuse = lambda path: False
    finished = run_import(target, source, proxy.url_endpoint)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "1 files imported (2 versions" in finished.stdout
    assert library(target) == library(source)


def test_an_unpublished_version_is_delivered_only_to_a_signed_url(
    source: ServerProcess,
) -> None:
    plain = f"{source.url_endpoint}/library/draft.txt"
    assert httpx.get(plain).status_code == 404
    helper = ImageKit(private_key=TEST_KEY, base_url=source.base_url).helper
    signed = helper.build_url(src=plain, url_endpoint=source.url_endpoint, signed=True)
    answer = httpx.get(signed)
    assert answer.status_code == 200 and answer.content == b"draft"
    assert answer.headers["cache-control"].startswith("private")
    wrong = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    assert httpx.get(wrong).status_code == 404
