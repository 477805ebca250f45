"""Per-file history (GET /v1/files/{fileId}/history): every change made through the official
SDK leaves its event, newest first, paged, kept after the file's versions and the file itself
are deleted, until the trash is purged."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, free_port

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNKNOWN_ID = "0123456789abcdef01234567"


def history(server: ServerProcess, file_id: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/v1/files/{file_id}/history", params=params, auth=(TEST_KEY, "")
    )


def events(server: ServerProcess, file_id: str) -> list[dict[str, Any]]:
    answer = history(server, file_id, limit=1000)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next"] is None
    found: list[dict[str, Any]] = answer.json()["events"]
    return found


def upload(client: ImageKit, content: bytes, folder: str, name: str = "h.txt", **kw: Any) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def test_every_change_leaves_its_event_newest_first(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    first = upload(client, b"one", folder)
    file_id = first.file_id
    second = upload(client, b"two!", folder)
    client.files.versions.restore(file_id, file_id=file_id)
    client.files.update(file_id, tags=["red"])
    client.files.bulk.add_tags(file_ids=[file_id], tags=["blue"])
    client.files.update(file_id, publish={"is_published": False})
    client.files.rename(file_path=f"{folder}/h.txt", new_file_name="renamed.txt")
    client.files.move(source_file_path=f"{folder}/renamed.txt", destination_path=f"{folder}/sub")
    client.files.copy(
        source_file_path=f"{folder}/sub/renamed.txt",
        destination_path=f"{folder}/copies",
        include_file_versions=True,
    )
    client.files.versions.delete(second.version_info.id, file_id=file_id)

    found = events(server, file_id)
    assert [e["type"] for e in found] == [
        "file-version.deleted",
        "file.moved",
        "file.renamed",
        "file.updated",
        "file.updated",
        "file.updated",
        "file-version.restored",
        "file-version.created",
        "file.created",
    ]
    by_type = {e["type"]: e for e in found}
    for event in found:
        assert re.fullmatch(r"[0-9a-f]{24}", event["id"])
        assert ISO_MS.match(event["at"]), event["at"]
    assert [e["at"] for e in found] == sorted((e["at"] for e in found), reverse=True)
    assert len({e["id"] for e in found}) == len(found)
    created = by_type["file.created"]
    assert created["versionId"] == file_id
    assert created["details"] == {"filePath": f"{folder}/h.txt", "size": 3}
    assert by_type["file-version.created"]["versionId"] == second.version_info.id
    assert by_type["file-version.created"]["details"] == {"versionName": "Version 2", "size": 4}
    restored = by_type["file-version.restored"]
    assert restored["versionId"] == file_id
    assert restored["details"] == {
        "versionName": "Version 1",
        "previousVersionId": second.version_info.id,
    }
    updates = [e["details"] for e in found if e["type"] == "file.updated"]
    assert updates == [
        {"isPublished": False, "includeFileVersions": False},
        {"tags": ["red", "blue"]},
        {"tags": ["red"]},
    ]
    assert by_type["file.renamed"]["details"] == {
        "from": f"{folder}/h.txt",
        "to": f"{folder}/renamed.txt",
    }
    assert by_type["file.moved"]["details"] == {
        "from": f"{folder}/renamed.txt",
        "to": f"{folder}/sub/renamed.txt",
    }
    deleted = by_type["file-version.deleted"]
    assert deleted["versionId"] == second.version_info.id and deleted["details"] == {}

    # The copy is a file of its own whose history starts with where it came from.
    copy = client.assets.list(path=f"{folder}/copies")[0]
    assert [e["type"] for e in events(server, copy.file_id)] == ["file.copied"]
    copied = events(server, copy.file_id)[0]
    assert copied["versionId"] == copy.version_info.id
    assert copied["details"] == {
        "sourceFileId": file_id,
        "sourceFilePath": f"{folder}/sub/renamed.txt",
        "versions": 2,
        "appended": False,
    }


def test_history_survives_the_files_deletion_until_the_trash_is_purged(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    file_id = upload(client, b"kept", folder).file_id
    client.files.delete(file_id)
    assert [e["type"] for e in events(server, file_id)] == ["file.trashed", "file.created"]
    restore = httpx.post(f"{server.base_url}/v1/trash/{file_id}/restore", auth=(TEST_KEY, ""))
    assert restore.status_code == 200, restore.text
    client.files.bulk.delete(file_ids=[file_id])
    found = events(server, file_id)
    assert [e["type"] for e in found] == [
        "file.trashed",
        "file.untrashed",
        "file.trashed",
        "file.created",
    ]
    assert found[1]["details"] == {"filePath": f"{folder}/h.txt", "from": f"{folder}/h.txt"}
    assert found[1]["versionId"] == file_id
    purge = httpx.delete(f"{server.base_url}/v1/trash/{file_id}", auth=(TEST_KEY, ""))
    assert purge.status_code == 204
    gone = history(server, file_id)
    assert gone.status_code == 404
    assert gone.json() == {
        "message": "The requested file does not exist.",
        "help": gone.json()["help"],
    }


def test_a_move_onto_a_same_named_file_is_in_both_histories(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    source = upload(client, b"source", f"{folder}/a", "same.txt")
    target = upload(client, b"target", f"{folder}/b", "same.txt")
    client.files.move(source_file_path=f"{folder}/a/same.txt", destination_path=f"{folder}/b")
    source_events = events(server, source.file_id)
    assert [e["type"] for e in source_events] == ["file.deleted", "file.created"]
    assert source_events[0]["details"] == {"movedInto": target.file_id}
    merged = events(server, target.file_id)[0]
    assert merged["type"] == "file.moved"
    assert merged["details"] == {
        "from": f"{folder}/a/same.txt",
        "to": f"{folder}/b/same.txt",
        "fromFileId": source.file_id,
        "versions": 1,
        "appended": True,
    }


def test_history_pages_until_next_is_null(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    file_id = upload(client, b"0", folder).file_id
    for n in range(1, 7):
        upload(client, str(n).encode(), folder)
    everything = events(server, file_id)
    assert len(everything) == 7
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if after is not None:
            params["after"] = after
        answer = history(server, file_id, **params).json()
        pages.append([e["id"] for e in answer["events"]])
        after = answer["next"]
        if after is None:
            break
        assert isinstance(after, str)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [e["id"] for e in everything]
    # A page that ends exactly at the last event says so: no empty page after it.
    exact = history(server, file_id, limit=7).json()
    assert len(exact["events"]) == 7 and exact["next"] is None
    default = history(server, file_id).json()
    assert len(default["events"]) == 7


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "Minimum value of limit parameter is 1. Value sent is 0."),
        ({"limit": "x"}, "Minimum value of limit parameter is 1. Value sent is x."),
        ({"limit": 1001}, "Maximum value of limit parameter is 1000. Value sent is 1001."),
        ({"after": "abc"}, "Your request contains invalid after parameter."),
        ({"after": "0"}, "Your request contains invalid after parameter."),
        ({"after": "-5"}, "Your request contains invalid after parameter."),
        ({"sort": "x"}, None),
    ],
)
def test_a_bad_limit_or_cursor_is_a_400(
    client: ImageKit,
    server: ServerProcess,
    folder: str,
    params: dict[str, Any],
    message: str | None,
) -> None:
    file_id = upload(client, b"x", folder).file_id
    answer = history(server, file_id, **params)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"message", "help"}
    if message is not None:
        assert body["message"] == message


def test_unknown_or_malformed_ids_and_missing_keys(server: ServerProcess) -> None:
    unknown = history(server, UNKNOWN_ID)
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "The requested file does not exist."
    malformed = history(server, "not-an-id")
    assert malformed.status_code == 400
    assert malformed.json()["message"] == "Your request contains invalid fileId parameter."
    anonymous = httpx.get(f"{server.base_url}/v1/files/{UNKNOWN_ID}/history")
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"message", "help"}


def test_without_a_trash_a_deleted_files_history_ends_with_file_deleted(
    tmp_path: Any,
) -> None:
    server = ServerProcess(
        data=tmp_path / "data", port=free_port(), env={"MEDIAVAULT_TRASH_DAYS": "0"}
    ).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        file_id = upload(client, b"gone", "/notrash").file_id
        client.files.delete(file_id)
        found = events(server, file_id)
        assert [e["type"] for e in found] == ["file.deleted", "file.created"]
        assert found[0]["versionId"] is None and found[0]["details"] == {}
    finally:
        server.stop()


def test_retention_leaves_its_event_beside_the_version_deletion(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    file_id = upload(client, b"v1", folder).file_id
    upload(client, b"v2", folder)
    with httpx.Client(base_url=server.base_url, auth=(TEST_KEY, "")) as http:
        created = http.post("/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 1})
        assert created.status_code == 201, created.text
        try:
            server.cli("retention", "apply")
        finally:
            assert http.delete(f"/v1/retentionPolicies/{created.json()['id']}").status_code == 204
    found = events(server, file_id)
    types = [e["type"] for e in found]
    assert types[:2] in (
        ["retention.applied", "file-version.deleted"],
        ["file-version.deleted", "retention.applied"],
    )
    assert {e["versionId"] for e in found[:2]} == {file_id}
