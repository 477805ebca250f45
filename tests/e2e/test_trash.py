"""The trash: files deleted through ImageKit's routes (single, bulk, folder) wait there with
every version and their bytes; restored whole, or purged (on request or once expired) through
the two-phase blob deletion."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from mediavault.services.fsck import FsckReport, fsck
from mediavault.wiring import build_blob_store, build_stores
from tests.support import TEST_KEY, ServerProcess, blob_files, check_invariants, free_port

AUTH = (TEST_KEY, "")
UNKNOWN_ID = "0123456789abcdef01234567"


def upload(client: ImageKit, content: bytes, folder: str, name: str = "t.txt", **kw: Any) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def trash_list(server: ServerProcess, **params: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.base_url}/v1/trash", params=params, auth=AUTH)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()
    return listed


def restore(server: ServerProcess, file_id: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/trash/{file_id}/restore", json=body, auth=AUTH)


def purge(server: ServerProcess, file_id: str) -> httpx.Response:
    return httpx.delete(f"{server.base_url}/v1/trash/{file_id}", auth=AUTH)


def run_fsck(server: ServerProcess) -> FsckReport:
    stores = build_stores(server.settings)
    try:
        return fsck(stores)
    finally:
        stores.close()


def test_a_deleted_file_waits_in_the_trash_and_comes_back_whole(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    first = upload(client, b"first bytes", folder, tags=["keep"])
    second = upload(client, b"second bytes!", folder)
    file_id = first.file_id
    before = client.files.versions.list(file_id)
    urls = {v.version_info.id: v.url for v in before}
    assert client.files.delete(file_id) is None

    # ImageKit's routes answer as before: the file is gone and its path is free at once.
    with pytest.raises(imagekitio.NotFoundError):
        client.files.get(file_id)
    with pytest.raises(imagekitio.NotFoundError):
        client.files.versions.list(file_id)
    assert [httpx.get(u).status_code for u in urls.values()] == [404, 404]
    assert client.assets.list(path=folder) == []
    newcomer = upload(client, b"a new file at the same path", folder)
    assert newcomer.file_id != file_id and newcomer.version_info.name == "Version 1"

    (listed,) = trash_list(server, path=folder)
    assert listed["fileId"] == file_id and listed["type"] == "file"
    assert listed["versionInfo"] == {"id": second.version_info.id, "name": "Version 2"}
    assert listed["versionCount"] == 2 and listed["size"] == len(b"second bytes!")
    assert listed["filePath"] == f"{folder}/t.txt"
    assert listed["deletedAt"].endswith("Z") and len(listed["deletedAt"]) == 24

    taken = restore(server, file_id)
    assert taken.status_code == 409
    assert taken.json() == {
        "message": "A file already exists at this path.",
        "help": taken.json()["help"],
    }
    assert taken.headers["x-should-retry"] == "false"

    back = restore(server, file_id, {"filePath": f"{folder}/elsewhere/back.txt"})
    assert back.status_code == 200, back.text
    assert back.json()["fileId"] == file_id
    assert back.json()["filePath"] == f"{folder}/elsewhere/back.txt"
    after = client.files.versions.list(file_id)
    assert [(v.version_info.id, v.version_info.name, v.type) for v in after] == [
        (v.version_info.id, v.version_info.name, v.type) for v in before
    ]
    assert [httpx.get(v.url).content for v in after] == [b"second bytes!", b"first bytes"]
    assert client.assets.list(path=f"{folder}/elsewhere")[0].file_id == file_id
    assert trash_list(server, path=folder) == []
    # Tag rows are rebuilt: the first version's tags are searchable again.
    versions = client.assets.list(
        search_query='type = "file-version" AND tags IN ["keep"]', path=f"{folder}/elsewhere"
    )
    assert [v.version_info.id for v in versions] == [file_id]
    check_invariants(server)


def test_restore_puts_the_file_back_at_its_path_when_it_is_free(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    uploaded = upload(client, b"deep", f"{folder}/x/y", tags=["deepest"])
    client.folders.delete(folder_path=f"{folder}/x")
    assert client.assets.list(path=folder, type="folder") == []
    back = restore(server, uploaded.file_id, {})
    assert back.status_code == 200
    assert back.json()["filePath"] == f"{folder}/x/y/t.txt"
    assert back.json()["tags"] == ["deepest"]
    # Its folders are created again, as an upload would.
    assert [f.name for f in client.assets.list(path=folder, type="folder")] == ["x"]
    assert httpx.get(back.json()["url"]).content == b"deep"
    assert httpx.get(uploaded.url).content == b"deep"  # the URL from before the delete
    again = restore(server, uploaded.file_id)
    assert again.status_code == 404
    check_invariants(server)


def test_bulk_and_folder_deletions_go_to_the_trash_newest_first(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    a = upload(client, b"a", folder, "a.txt")
    b = upload(client, b"b", folder, "b.txt")
    c = upload(client, b"c", f"{folder}/sub", "c.txt")
    client.files.bulk.delete(file_ids=[a.file_id, b.file_id])
    time.sleep(0.01)
    client.folders.delete(folder_path=f"{folder}/sub")
    listed = trash_list(server, path=folder)
    assert listed[0]["fileId"] == c.file_id
    assert {x["fileId"] for x in listed} == {a.file_id, b.file_id, c.file_id}
    assert [x["fileId"] for x in trash_list(server, path=f"{folder}/sub")] == [c.file_id]
    paged = trash_list(server, path=folder, skip=1, limit=1)
    assert len(paged) == 1 and paged[0]["fileId"] == listed[1]["fileId"]


def test_purging_frees_the_bytes_and_the_history(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    content = f"bytes of {folder} only".encode()
    digest = hashlib.sha256(content).hexdigest()
    uploaded = upload(client, content, folder)
    client.files.delete(uploaded.file_id)
    assert blob_files(server)[digest] == len(content)  # the trash holds them
    check_invariants(server)
    assert purge(server, uploaded.file_id).status_code == 204
    assert digest not in blob_files(server)
    assert trash_list(server, path=folder) == []
    assert purge(server, uploaded.file_id).status_code == 404
    history = httpx.get(f"{server.base_url}/v1/files/{uploaded.file_id}/history", auth=AUTH)
    assert history.status_code == 404
    check_invariants(server)


def test_trash_routes_check_ids_keys_and_bodies(server: ServerProcess) -> None:
    assert purge(server, UNKNOWN_ID).status_code == 404
    assert restore(server, UNKNOWN_ID).json()["message"] == "The requested file does not exist."
    assert purge(server, "nope").status_code == 400
    assert restore(server, UNKNOWN_ID, ["list"]).status_code == 400
    assert restore(server, UNKNOWN_ID, {"filePath": 3}).status_code == 400
    bad = httpx.get(f"{server.base_url}/v1/trash", params={"limit": 0}, auth=AUTH)
    assert bad.status_code == 400 and set(bad.json()) == {"message", "help"}
    assert (
        httpx.get(f"{server.base_url}/v1/trash", params={"skip": -1}, auth=AUTH).status_code == 400
    )
    for anonymous in (
        httpx.get(f"{server.base_url}/v1/trash"),
        httpx.post(f"{server.base_url}/v1/trash/{UNKNOWN_ID}/restore"),
        httpx.delete(f"{server.base_url}/v1/trash/{UNKNOWN_ID}"),
    ):
        assert anonymous.status_code == 401


@pytest.fixture
def own_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    server = ServerProcess(data=tmp_path / "data", port=free_port(), env=request.param).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "own_server",
    # About 1.7 seconds of trash, and a collector that looks every second or so.
    [{"MEDIAVAULT_TRASH_DAYS": "0.00002", "MEDIAVAULT_COLLECT_INTERVAL_SECONDS": "1"}],
    indirect=True,
)
def test_the_collector_purges_what_outlived_the_trash_period(own_server: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=own_server.base_url, max_retries=0)
    uploaded = upload(client, b"short-lived", "/expiring")
    digest = hashlib.sha256(b"short-lived").hexdigest()
    client.files.delete(uploaded.file_id)
    assert [x["fileId"] for x in trash_list(own_server)] == [uploaded.file_id]
    deadline = time.monotonic() + 30
    while trash_list(own_server) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert trash_list(own_server) == []
    assert digest not in blob_files(own_server)
    check_invariants(own_server)


@pytest.mark.parametrize("own_server", [{"MEDIAVAULT_TRASH_DAYS": "0"}], indirect=True)
def test_without_a_trash_deletion_is_immediate_as_before(own_server: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=own_server.base_url, max_retries=0)
    contents = [b"one", b"two", b"three"]
    ids = [upload(client, c, "/now", f"{n}.txt").file_id for n, c in enumerate(contents)]
    client.files.delete(ids[0])
    client.files.bulk.delete(file_ids=[ids[1]])
    client.folders.delete(folder_path="/now")
    stored = blob_files(own_server)
    assert all(hashlib.sha256(c).hexdigest() not in stored for c in contents)
    assert trash_list(own_server) == []
    assert purge(own_server, ids[0]).status_code == 404
    check_invariants(own_server)


@pytest.mark.parametrize("own_server", [{}], indirect=True)
def test_fsck_knows_the_trash(own_server: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=own_server.base_url, max_retries=0)
    uploaded = upload(client, b"in the trash", "/fsck")
    client.files.delete(uploaded.file_id)
    check_invariants(own_server)  # its blob is referenced: no "orphan blob" report
    digest = hashlib.sha256(b"in the trash").hexdigest()
    build_blob_store(own_server.settings).delete(digest)
    report = run_fsck(own_server)
    assert f"blob missing: {digest}" in report.problems


def test_webhooks_see_a_deletion_then_a_creation_and_nothing_for_a_purge(
    tmp_path: Path,
) -> None:
    from tests.e2e.webhook_receiver import Receiver

    secret = "whsec_mediavault_trash_test"
    receiver = Receiver(secret, free_port()).start()
    env = {"MEDIAVAULT_WEBHOOK_URL": receiver.url, "MEDIAVAULT_WEBHOOK_SECRET": secret}
    server = ServerProcess(data=tmp_path / "data", port=free_port(), env=env).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        file_id = upload(client, b"hooked", "/hooks").file_id
        client.files.delete(file_id)
        assert restore(server, file_id).status_code == 200
        client.files.delete(file_id)
        assert purge(server, file_id).status_code == 204
        events = receiver.wait_for(4)
        time.sleep(1.0)  # anything extra would arrive now
    finally:
        server.stop()
        receiver.stop()
    assert [e["type"] for e in receiver.events] == [
        "file.created",
        "file.deleted",
        "file.created",
        "file.deleted",
    ]
    assert events[1]["data"] == {"fileId": file_id}
    assert events[2]["data"]["fileId"] == file_id
    assert events[2]["data"]["filePath"] == "/hooks/t.txt"
