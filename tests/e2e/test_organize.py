"""Copy, move, rename, folders and bulk tags, with version history kept intact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, blob_files, check_invariants


def history(client: ImageKit, file_id: str) -> list[tuple[str, str, bytes]]:
    return [
        (v.type, v.version_info.name, httpx.get(v.url).content)
        for v in client.files.versions.list(file_id)
    ]


def only_file(client: ImageKit, folder: str):
    (item,) = client.assets.list(path=folder)
    return item


@pytest.fixture
def three_versions(client: ImageKit, folder: str):
    for content in (b"one", b"two", b"three"):
        last = client.files.upload(
            file=content, file_name="doc.txt", folder=f"{folder}/src", use_unique_file_name=False
        )
    return last


def test_copy_takes_the_current_version_and_writes_no_blob(
    client: ImageKit, folder: str, data: Path, three_versions
) -> None:
    blobs_before = blob_files(data)
    assert (
        client.files.copy(
            source_file_path=f"{folder}/src/doc.txt", destination_path=f"{folder}/dst"
        )
        is None
    )
    copy = only_file(client, f"{folder}/dst")
    assert copy.file_id != three_versions.file_id
    assert history(client, copy.file_id) == [("file", "Version 1", b"three")]
    assert copy.version_info.id == copy.file_id
    assert blob_files(data) == blobs_before
    assert len(client.files.versions.list(three_versions.file_id)) == 3
    check_invariants(data)


def test_copy_with_versions_keeps_the_whole_history(
    client: ImageKit, folder: str, data: Path, three_versions
) -> None:
    blobs_before = blob_files(data)
    client.files.copy(
        source_file_path=f"{folder}/src/doc.txt",
        destination_path=f"{folder}/dst",
        include_file_versions=True,
    )
    copy = only_file(client, f"{folder}/dst")
    assert history(client, copy.file_id) == [
        ("file", "Version 3", b"three"),
        ("file-version", "Version 2", b"two"),
        ("file-version", "Version 1", b"one"),
    ]
    assert blob_files(data) == blobs_before


def test_copy_onto_a_same_named_file_appends_to_its_history(
    client: ImageKit, folder: str, three_versions
) -> None:
    target = client.files.upload(
        file=b"target", file_name="doc.txt", folder=f"{folder}/dst", use_unique_file_name=False
    )
    client.files.copy(
        source_file_path=f"{folder}/src/doc.txt",
        destination_path=f"{folder}/dst",
        include_file_versions=True,
    )
    assert history(client, target.file_id) == [
        ("file", "Version 4", b"three"),
        ("file-version", "Version 3", b"two"),
        ("file-version", "Version 2", b"one"),
        ("file-version", "Version 1", b"target"),
    ]


def test_move_onto_an_existing_file_appends_history_and_removes_the_source(
    client: ImageKit, folder: str, data: Path, three_versions
) -> None:
    target = client.files.upload(
        file=b"target", file_name="doc.txt", folder=f"{folder}/dst", use_unique_file_name=False
    )
    moved_ids = {v.version_info.id for v in client.files.versions.list(three_versions.file_id)}
    assert (
        client.files.move(
            source_file_path=f"{folder}/src/doc.txt", destination_path=f"{folder}/dst"
        )
        is None
    )
    assert history(client, target.file_id) == [
        ("file", "Version 4", b"three"),
        ("file-version", "Version 3", b"two"),
        ("file-version", "Version 2", b"one"),
        ("file-version", "Version 1", b"target"),
    ]
    assert moved_ids <= {v.version_info.id for v in client.files.versions.list(target.file_id)}
    with pytest.raises(imagekitio.NotFoundError):
        client.files.get(three_versions.file_id)
    assert client.assets.list(path=f"{folder}/src") == []
    check_invariants(data)


def test_move_to_a_new_folder_keeps_ids_and_versions(
    client: ImageKit, folder: str, three_versions
) -> None:
    old_urls = [v.url for v in client.files.versions.list(three_versions.file_id)]
    client.files.move(source_file_path=f"{folder}/src/doc.txt", destination_path=f"{folder}/a/b")
    moved = client.files.get(three_versions.file_id)
    assert moved.file_path == f"{folder}/a/b/doc.txt"
    assert [c for _, _, c in history(client, moved.file_id)] == [b"three", b"two", b"one"]
    assert all(httpx.get(u).status_code == 404 for u in old_urls)
    folders = {f.folder_path for f in client.assets.list(type="folder", path=folder)}
    assert f"{folder}/a" in folders


def test_rename_moves_every_version_to_the_new_path(
    client: ImageKit, folder: str, three_versions
) -> None:
    old_urls = [v.url for v in client.files.versions.list(three_versions.file_id)]
    assert (
        client.files.rename(
            file_path=f"{folder}/src/doc.txt", new_file_name="new name.txt"
        ).to_dict()
        == {}
    )
    versions = client.files.versions.list(three_versions.file_id)
    assert {v.file_path for v in versions} == {f"{folder}/src/new_name.txt"}
    assert [httpx.get(v.url).content for v in versions] == [b"three", b"two", b"one"]
    assert all(httpx.get(u).status_code == 404 for u in old_urls)
    purged = client.files.rename(
        file_path=f"{folder}/src/new_name.txt", new_file_name="again.txt", purge_cache=True
    )
    assert len(purged.purge_request_id or "") == 24


def test_organize_errors(
    client: ImageKit, folder: str, server: ServerProcess, three_versions
) -> None:
    client.files.upload(
        file=b"x", file_name="taken.txt", folder=f"{folder}/src", use_unique_file_name=False
    )
    cases = [
        (lambda: client.files.copy(source_file_path=f"{folder}/none.txt", destination_path="/x"),
         404, "SOURCE_FILE_MISSING", f"No file found with filePath `{folder}/none.txt`."),
        (lambda: client.files.move(source_file_path=f"{folder}/none.txt", destination_path="/x"),
         404, "SOURCE_FILE_MISSING", f"No file found with filePath `{folder}/none.txt`."),
        (lambda: client.files.copy(source_file_path=f"{folder}/src/doc.txt", destination_path=f"{folder}/src/"),
         400, "SAME_SOURCE_AND_DESTINATION", None),
        (lambda: client.files.rename(file_path=f"{folder}/none.txt", new_file_name="a.txt"),
         404, "FILE_MISSING", f"No file found in media library at filePath {folder}/none.txt"),
        (lambda: client.files.rename(file_path=f"{folder}/src/doc.txt", new_file_name="doc.txt"),
         400, "SAME_OLD_AND_NEW_NAME", "newFileName cannot be the same as its existing name."),
        (lambda: client.files.rename(file_path=f"{folder}/src/doc.txt", new_file_name="taken.txt"),
         409, "FILE_ALREADY_EXISTS", "File with name taken.txt already exists at the same location."),
    ]  # fmt: skip
    for call, status, reason, message in cases:
        with pytest.raises(imagekitio.APIStatusError) as failed:
            call()
        assert failed.value.status_code == status
        assert failed.value.body["reason"] == reason
        if message:
            assert failed.value.body["message"] == message
    conflict = httpx.put(
        f"{server.base_url}/v1/files/rename",
        json={"filePath": f"{folder}/src/doc.txt", "newFileName": "taken.txt"},
        auth=(TEST_KEY, ""),
    )
    assert conflict.headers["x-should-retry"] == "false"
    missing = httpx.post(f"{server.base_url}/v1/files/copy", json={}, auth=(TEST_KEY, ""))
    assert missing.status_code == 400 and missing.json()["reason"] == "MISSING_PARAMETER"


def test_copy_refuses_to_exceed_the_version_limit(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    for _ in range(99):
        client.files.upload(
            file=b"x", file_name="full.txt", folder=f"{folder}/b", use_unique_file_name=False
        )
    for _ in range(2):
        client.files.upload(
            file=b"y", file_name="full.txt", folder=f"{folder}/a", use_unique_file_name=False
        )
    with pytest.raises(imagekitio.BadRequestError) as full:
        client.files.copy(source_file_path=f"{folder}/a/full.txt", destination_path=f"{folder}/b",
                          include_file_versions=True)  # fmt: skip
    assert full.value.body["reason"] == "VERSION_LIMIT_EXCEEDED"


def test_folders_are_created_listed_and_deleted_with_their_contents(
    client: ImageKit, folder: str, data: Path
) -> None:
    assert (
        client.folders.create(
            folder_name="new folder", parent_folder_path=f"{folder}/deep/er"
        ).to_dict()
        == {}
    )
    paths = {
        f.folder_path for f in client.assets.list(type="folder", search_query='name = "new_folder"')
    }
    assert f"{folder}/deep/er/new_folder" in paths
    inside = client.files.upload(
        file=b"a", file_name="a.txt", folder=f"{folder}/deep/er", use_unique_file_name=False
    )
    client.files.upload(
        file=b"b", file_name="a.txt", folder=f"{folder}/deep/er", use_unique_file_name=False
    )
    kept = client.files.upload(file=b"k", file_name="k.txt", folder=f"{folder}/deeper")
    assert client.folders.delete(folder_path=f"{folder}/deep/") is None
    with pytest.raises(imagekitio.NotFoundError):
        client.files.get(inside.file_id)
    assert client.files.get(kept.file_id).file_id == kept.file_id  # /deeper is not inside /deep
    assert client.assets.list(type="folder", path=f"{folder}/deep") == []
    with pytest.raises(imagekitio.NotFoundError) as missing:
        client.folders.delete(folder_path=f"{folder}/deep/")
    assert missing.value.body["reason"] == "FOLDER_NOT_FOUND"
    assert missing.value.body["message"] == f"No folder found with folderPath `{folder}/deep/`."
    with pytest.raises(imagekitio.BadRequestError) as dots:
        client.folders.create(folder_name="..", parent_folder_path=folder)
    assert dots.value.body["message"] == "'.' & '..' can not be used as folder-name"
    check_invariants(data)


def test_bulk_tag_edits(client: ImageKit, folder: str, server: ServerProcess) -> None:
    a = client.files.upload(file=b"a", file_name="a.txt", folder=folder, tags=["keep"])
    b = client.files.upload(file=b"b", file_name="b.txt", folder=folder)
    added = client.files.bulk.add_tags(file_ids=[a.file_id, b.file_id], tags=["new", "keep"])
    assert added.successfully_updated_file_ids == [a.file_id, b.file_id]
    assert client.files.get(a.file_id).tags == ["keep", "new"]
    assert client.files.get(b.file_id).tags == ["new", "keep"]
    removed = client.files.bulk.remove_tags(file_ids=[a.file_id], tags=["keep"])
    assert removed.successfully_updated_file_ids == [a.file_id]
    assert client.files.get(a.file_id).tags == ["new"]
    assert client.files.bulk.remove_ai_tags(
        file_ids=[b.file_id], ai_tags=["x"]
    ).successfully_updated_file_ids == [b.file_id]
    assert len(client.files.versions.list(a.file_id)) == 1  # no new versions

    unknown = "0123456789abcdef01234567"
    with pytest.raises(imagekitio.NotFoundError) as missing:
        client.files.bulk.add_tags(file_ids=[a.file_id, unknown], tags=["z"])
    assert missing.value.body["missingFileIds"] == [unknown]
    assert "z" not in client.files.get(a.file_id).tags

    long_tags = ["t" * 250, "u" * 245]  # a ends with 498 characters of tags, b with 502
    partial = httpx.post(
        f"{server.base_url}/v1/files/addTags",
        json={"fileIds": [a.file_id, b.file_id], "tags": long_tags},
        auth=(TEST_KEY, ""),
    )
    assert partial.status_code == 207
    body = partial.json()
    assert body["successfullyUpdatedFileIds"] == [a.file_id]
    assert [e["fileId"] for e in body["errors"]] == [b.file_id]

    url = f"{server.base_url}/v1/files/addTags"
    for payload, message in [
        ({"tags": ["a"]}, "fileIds parameter is missing."),
        ({"fileIds": [], "tags": ["a"]}, "fileIds is empty."),
        ({"fileIds": [a.file_id] * 51, "tags": ["a"]}, "A maximum of 50 files can be edited at a time."),
        ({"fileIds": [a.file_id]}, "tags parameter is missing."),
        ({"fileIds": [a.file_id], "tags": []}, "tags array cannot be empty."),
        ({"fileIds": [a.file_id], "tags": ["x" * 501]},
         "Your request contains invalid value for tags parameter. Combined length of all tags should be less than or equal to 500."),
    ]:  # fmt: skip
        response = httpx.post(url, json=payload, auth=(TEST_KEY, ""))
        assert (response.status_code, response.json()["message"]) == (400, message)
