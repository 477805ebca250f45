"""Folder bulk jobs through the official SDK (client.folders.copy/move/rename, .job.get): the
result trees exactly (versions included), ids and history of moved files, errors as the spec
says, and a job cut short by SIGKILL that resumes after the restart."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, free_port, sql

AUTH = (TEST_KEY, "")


def upload(client: ImageKit, content: bytes, folder: str, name: str) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False
    )


def wait_completed(client: ImageKit, job_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.folders.job.get(job_id)
        if job.status == "Completed":
            return job
        assert job.status == "Pending", job
        assert time.monotonic() < deadline, f"job {job_id} still pending"
        time.sleep(0.1)


def tree(server: ServerProcess, folder: str) -> dict[str, list[bytes]]:
    """Every file under the folder (any depth) -> its versions' bytes, oldest first; and every
    folder under it, as `<path>/` -> []."""
    found: dict[str, list[bytes]] = {}
    answer = httpx.get(
        f"{server.base_url}/v1/files",
        params={"path": folder, "type": "all", "limit": 1000},
        auth=AUTH,
    )
    assert answer.status_code == 200, answer.text
    for item in answer.json():
        if item["type"] == "folder":
            found[item["folderPath"] + "/"] = []
            found.update(tree(server, item["folderPath"]))
            continue
        versions = httpx.get(
            f"{server.base_url}/v1/files/{item['fileId']}/versions", auth=AUTH
        ).json()
        versions.sort(key=lambda v: int(v["versionInfo"]["name"].split()[-1]))
        found[item["filePath"]] = [httpx.get(v["url"]).content for v in versions]
    return found


def relative(found: dict[str, list[bytes]], folder: str) -> dict[str, list[bytes]]:
    assert all(path.startswith(folder + "/") for path in found), (folder, sorted(found))
    return {path[len(folder) :]: content for path, content in found.items()}


def build_source(client: ImageKit, source: str) -> None:
    upload(client, b"a1", source, "a.txt")
    upload(client, b"a2", source, "a.txt")
    upload(client, b"a3", source, "a.txt")
    upload(client, b"b1", f"{source}/sub", "b.txt")
    upload(client, b"b2", f"{source}/sub", "b.txt")
    upload(client, b"c1", f"{source}/sub/deep", "c.txt")
    client.folders.create(folder_name="empty", parent_folder_path=source)


SOURCE_TREE = {
    "/a.txt": [b"a1", b"a2", b"a3"],
    "/sub/": [],
    "/sub/b.txt": [b"b1", b"b2"],
    "/sub/deep/": [],
    "/sub/deep/c.txt": [b"c1"],
    "/empty/": [],
}


def test_copy_folder_with_versions_copies_the_whole_tree_and_every_version(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    source = f"{folder}/src"
    build_source(client, source)
    started = client.folders.copy(
        source_folder_path=source, destination_path=f"{folder}/dst", include_versions=True
    )
    job = wait_completed(client, started.job_id)
    assert (job.job_id, job.type, job.status) == (started.job_id, "COPY_FOLDER", "Completed")
    assert job.purge_request_id is None
    assert relative(tree(server, f"{folder}/dst/src"), f"{folder}/dst/src") == SOURCE_TREE
    assert relative(tree(server, source), source) == SOURCE_TREE  # the source is untouched


def test_copy_folder_without_versions_takes_each_files_current_version_only(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    source = f"{folder}/src"
    build_source(client, source)
    started = client.folders.copy(source_folder_path=source, destination_path=f"{folder}/dst")
    wait_completed(client, started.job_id)
    current_only = {path: versions[-1:] for path, versions in SOURCE_TREE.items()}
    assert relative(tree(server, f"{folder}/dst/src"), f"{folder}/dst/src") == current_only


def test_a_copy_onto_a_same_named_file_appends_its_versions(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    upload(client, b"s1", f"{folder}/src", "x.txt")
    upload(client, b"s2", f"{folder}/src", "x.txt")
    upload(client, b"d1", f"{folder}/dst/src", "x.txt")
    # The legacy flag name of the older SDKs, as a raw request.
    answer = httpx.post(
        f"{server.base_url}/v1/bulkJobs/copyFolder",
        json={
            "sourceFolderPath": f"{folder}/src",
            "destinationPath": f"{folder}/dst",
            "includeFileVersions": True,
        },
        auth=AUTH,
    )
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == ["jobId"]
    wait_completed(client, answer.json()["jobId"])
    assert tree(server, f"{folder}/dst/src") == {f"{folder}/dst/src/x.txt": [b"d1", b"s1", b"s2"]}


def test_move_folder_keeps_ids_versions_and_history_and_removes_the_source(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    source = f"{folder}/src"
    build_source(client, source)
    before = {f.file_path: f.file_id for f in _files(server, source)}
    started = client.folders.move(source_folder_path=source, destination_path=f"{folder}/dst")
    job = wait_completed(client, started.job_id)
    assert job.type == "MOVE_FOLDER"
    moved = f"{folder}/dst/src"
    assert relative(tree(server, moved), moved) == SOURCE_TREE
    after = {f.file_path: f.file_id for f in _files(server, moved)}
    assert after == {moved + path[len(source) :]: file_id for path, file_id in before.items()}
    assert tree(server, folder) == {
        f"{folder}/dst/": [],
        **{f"{moved}{path}": content for path, content in SOURCE_TREE.items()},
        f"{moved}/": [],
    }
    file_id = before[f"{source}/sub/b.txt"]
    events = httpx.get(f"{server.base_url}/v1/files/{file_id}/history", auth=AUTH).json()
    latest = events["events"][0]
    assert latest["type"] == "file.moved"
    assert latest["details"] == {"from": f"{source}/sub/b.txt", "to": f"{moved}/sub/b.txt"}


def test_rename_folder_rewrites_every_path_and_issues_one_purge(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    source = f"{folder}/old"
    build_source(client, source)
    ids = {f.name: f.file_id for f in _files(server, source)}
    started = client.folders.rename(
        folder_path=source, new_folder_name="new one!", purge_cache=True
    )
    job = wait_completed(client, started.job_id)
    assert job.type == "RENAME_FOLDER"
    assert job.purge_request_id is not None
    assert client.cache.invalidation.get(job.purge_request_id).status == "Completed"
    renamed = f"{folder}/new_one_"  # every character but letters, digits and - becomes _
    assert relative(tree(server, renamed), renamed) == SOURCE_TREE
    assert {f.name: f.file_id for f in _files(server, renamed)} == ids
    assert tree(server, folder) == {
        f"{renamed}/": [],
        **{f"{renamed}{path}": content for path, content in SOURCE_TREE.items()},
    }
    plain = client.folders.rename(folder_path=renamed, new_folder_name="plain")
    assert client.folders.job.get(plain.job_id).purge_request_id is None


class Listed:
    def __init__(self, item: dict[str, Any]) -> None:
        self.file_path, self.file_id, self.name = item["filePath"], item["fileId"], item["name"]


def _files(server: ServerProcess, folder: str) -> list[Listed]:
    """Every file under the folder, at any depth."""
    answer = httpx.get(
        f"{server.base_url}/v1/files",
        params={"path": folder, "type": "all", "limit": 1000},
        auth=AUTH,
    )
    assert answer.status_code == 200, answer.text
    found = []
    for item in answer.json():
        if item["type"] == "folder":
            found += _files(server, item["folderPath"])
        else:
            found.append(Listed(item))
    return found


@pytest.mark.parametrize(
    ("route", "body", "status", "message", "reason"),
    [
        ("copyFolder", {"sourceFolderPath": "/nope-{u}", "destinationPath": "/x"}, 404,
         "No files & folder found at sourceFolderPath /nope-{u}", "NO_FILES_FOLDER"),
        ("moveFolder", {"sourceFolderPath": "/nope-{u}", "destinationPath": "/x"}, 404,
         "No files & folder found at sourceFolderPath /nope-{u}", "NO_FILES_FOLDER"),
        ("copyFolder", {"sourceFolderPath": "/", "destinationPath": "/x"}, 400,
         "sourceFolderPath cannot be the root folder.", "SOURCE_IS_ROOT"),
        ("copyFolder", {"sourceFolderPath": "/{f}", "destinationPath": "/{f}"}, 400,
         "sourceFolderPath and destinationPath is same", "SAME_SOURCE_AND_DESTINATION"),
        ("moveFolder", {"sourceFolderPath": "/{f}", "destinationPath": "/{f}/inner"}, 400,
         "This operation is not allowed because parent folder cannot be moved into child "
         "folder.", "INVALID_DESTINATION_PATH"),
        ("moveFolder", {"destinationPath": "/x"}, 400,
         "Your request is missing parameters: sourceFolderPath.", "MISSING_PARAMETER"),
        ("renameFolder", {"folderPath": "/{f}"}, 400,
         "Your request is missing parameters: newFolderName.", "MISSING_PARAMETER"),
        ("renameFolder", {"folderPath": "/nope-{u}", "newFolderName": "b"}, 404,
         "No files & folder found at folderPath /nope-{u}", "NO_FILES_FOLDER"),
        ("renameFolder", {"folderPath": "/{f}/a", "newFolderName": "b"}, 409,
         "Folder with name b already exists at the same location.", "FOLDER_ALREADY_EXISTS"),
    ],
)  # fmt: skip
def test_refusals_answer_as_the_spec_says(
    client: ImageKit,
    server: ServerProcess,
    route: str,
    body: dict[str, str],
    status: int,
    message: str,
    reason: str,
) -> None:
    name, unique = f"t{uuid.uuid4().hex[:10]}", uuid.uuid4().hex[:6]
    upload(client, b"x", f"/{name}/a", "x.txt")
    upload(client, b"y", f"/{name}/b", "y.txt")
    sent = {k: v.format(f=name, u=unique) for k, v in body.items()}
    answer = httpx.post(f"{server.base_url}/v1/bulkJobs/{route}", json=sent, auth=AUTH)
    assert answer.status_code == status, answer.text
    assert answer.json()["message"] == message.format(f=name, u=unique)
    assert answer.json()["reason"] == reason


def test_an_unknown_job_is_a_404(client: ImageKit) -> None:
    with pytest.raises(imagekitio.NotFoundError) as raised:
        client.folders.job.get("0123456789abcdef01234567")
    assert raised.value.body["message"] == "The requested job does not exist."  # type: ignore[index]
    with pytest.raises(imagekitio.NotFoundError):
        client.folders.job.get("not-an-id")


def test_a_job_cut_short_by_sigkill_resumes_after_the_restart(tmp_path: Path) -> None:
    server = ServerProcess(
        data=tmp_path / "data", port=free_port(), env={"MEDIAVAULT_BULK_JOB_BATCH_SIZE": "2"}
    ).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        count = 240
        for i in range(count):
            upload(client, f"file {i}".encode(), f"/big/d{i % 7}", f"f{i:03}.txt")
        started = client.folders.copy(source_folder_path="/big", destination_path="/copy")
        # Kill it once some batches, not all, are committed. The server is frozen (SIGSTOP)
        # while its progress is read, so that the job cannot finish between the reading and
        # the kill: on a fast machine it runs all 120 batches in less than one reading takes.
        assert server.process is not None
        group = server.process.pid
        deadline = time.monotonic() + 60
        while True:
            os.killpg(group, signal.SIGSTOP)
            try:
                [(done, status)] = sql(
                    server,
                    f"SELECT files_done, status FROM bulk_jobs WHERE id = '{started.job_id}'",
                )
            except BaseException:
                os.killpg(group, signal.SIGCONT)  # so that stop() can end it
                raise
            if done >= 10:
                break
            os.killpg(group, signal.SIGCONT)
            assert time.monotonic() < deadline
            time.sleep(0.002)
        server.kill()
        [(done, status, cursor)] = sql(
            server,
            f"SELECT files_done, status, cursor FROM bulk_jobs WHERE id = '{started.job_id}'",
        )
        assert status == "Pending" and 0 < done < count, (done, status)
        assert cursor is not None
        server.start()
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        wait_completed(client, started.job_id)
        [(final_done,)] = sql(
            server, f"SELECT files_done FROM bulk_jobs WHERE id = '{started.job_id}'"
        )
        assert final_done == count
        copied = tree(server, "/copy/big")
        expected = {f"/copy/big/d{i % 7}/f{i:03}.txt": [f"file {i}".encode()] for i in range(count)}
        expected.update({f"/copy/big/d{d}/": [] for d in range(7)})
        assert copied == expected  # each file once, with one version: no batch ran twice
    finally:
        server.stop()
