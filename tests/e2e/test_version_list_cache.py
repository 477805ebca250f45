"""The version list, a version's details, a file's details and small deliveries are answered
again from a worker's memory only while the file's revision (moved by the database on every
change: migration 0010) is the one they were made at.

Two workers, so a change made through one is listed by the other. After every kind of change
the list on the fast path (cached) must equal the list the Litestar route builds afresh (a
query string takes that route), and show the change.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit

from tests.faults import execute_sql
from tests.support import TEST_KEY, ServerProcess, free_port, sql

AUTH = (TEST_KEY, "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("list-cache") / "data"
    process = ServerProcess(data=data, port=free_port(), workers=2).start()
    try:
        yield process
    finally:
        process.stop()


def _same_on_both_paths(path: str) -> httpx.Response:
    """The fast path's answer, asked enough times to reach both workers, equal to Litestar's
    (a query string takes that route): status, ETag and body."""
    answers = [httpx.get(path, auth=AUTH) for _ in range(6)]
    fresh = httpx.get(path + "?&", auth=AUTH)
    assert fresh.status_code == 200, fresh.text
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json() == fresh.json()
        assert answer.headers["etag"] == fresh.headers["etag"]
    return answers[-1]


def _deliveries_agree(listed: list[Any]) -> None:
    """Every version's URL, asked enough times to reach both workers (their kept answers,
    api/routes/delivery.py), answers as the same URL with a parameter no one asked before,
    which no worker has kept: status, ETag, caching and body; and as a 304 when it should."""
    for url in {v["url"] for v in listed}:
        fresh = httpx.get(f"{url}{'&' if '?' in url else '?'}fresh={secrets.token_hex(8)}")
        for _ in range(4):
            kept = httpx.get(url)
            assert kept.status_code == fresh.status_code, (url, kept.text)
            assert kept.content == fresh.content
            for name in ("etag", "cache-control", "content-type", "last-modified"):
                assert kept.headers.get(name) == fresh.headers.get(name), name
        if fresh.status_code == 200:
            again = httpx.get(url, headers={"if-none-match": fresh.headers["etag"]})
            assert again.status_code == 304 and again.content == b""


def _lists(server: ServerProcess, file_id: str) -> tuple[Any, Any, str]:
    """The version list (and, beside it, the details of the file and of every version, which
    are kept the same way), each checked on both paths."""
    base = f"{server.base_url}/v1/files/{file_id}"
    listed = _same_on_both_paths(f"{base}/versions")
    details = _same_on_both_paths(f"{base}/details")
    assert details.json() == listed.json()[0]  # the current version, first in the list
    for version in listed.json():
        one = _same_on_both_paths(f"{base}/versions/{version['versionInfo']['id']}")
        assert one.json() == version
    return listed.json(), details.json(), listed.headers["etag"]


def test_every_change_to_a_file_reaches_its_cached_version_list(server: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)

    def upload(content: bytes) -> Any:
        return client.files.upload(
            file=content, file_name="doc.txt", folder="/cache", use_unique_file_name=False
        )

    first = upload(b"one")
    file_id = first.file_id
    assert file_id and first.version_info and first.version_info.id
    upload(b"two")
    listed, _, _ = _lists(server, file_id)
    assert [v["versionInfo"]["name"] for v in listed] == ["Version 2", "Version 1"]

    def check(change: Callable[[], object], shows: Callable[[list[Any]], bool]) -> None:
        before, _, _ = _lists(server, file_id)
        _deliveries_agree(before)  # and now kept by the workers that answered
        change()
        after, _, _ = _lists(server, file_id)
        assert after != before
        assert shows(after), after
        _deliveries_agree(before + after)  # old paths and tokens included

    check(lambda: upload(b"three"), lambda vs: vs[0]["versionInfo"]["name"] == "Version 3")
    check(
        lambda: client.files.update(file_id, tags=["edited"]),
        lambda vs: vs[0]["tags"] == ["edited"],
    )
    check(
        lambda: client.files.update(file_id, custom_coordinates="1,2,3,4"),
        lambda vs: vs[0]["customCoordinates"] == "1,2,3,4",
    )
    check(
        lambda: client.files.versions.delete(first.version_info.id, file_id=file_id),
        lambda vs: [v["versionInfo"]["name"] for v in vs] == ["Version 3", "Version 2"],
    )
    second_id = _lists(server, file_id)[0][1]["versionInfo"]["id"]
    check(
        lambda: client.files.versions.restore(second_id, file_id=file_id),
        lambda vs: vs[0]["versionInfo"]["id"] == second_id,  # current again, listed first
    )
    check(
        lambda: client.files.update(
            file_id, publish={"is_published": False, "include_file_versions": True}
        ),
        lambda vs: all(v["isPublished"] is False for v in vs),
    )
    check(
        lambda: client.files.rename(file_path="/cache/doc.txt", new_file_name="renamed.txt"),
        lambda vs: all(v["filePath"] == "/cache/renamed.txt" for v in vs),
    )
    check(
        lambda: client.files.move(source_file_path="/cache/renamed.txt", destination_path="/moved"),
        lambda vs: all(v["filePath"] == "/moved/renamed.txt" for v in vs),
    )

    # Deleted (into the trash): gone from both paths; restored: its versions listed again,
    # each worker's answer the same as a fresh one (_lists).
    before, _, _ = _lists(server, file_id)
    client.files.delete(file_id)
    path = f"{server.base_url}/v1/files/{file_id}/versions"
    for _ in range(4):
        gone = httpx.get(path, auth=AUTH)
        assert gone.status_code == 404, gone.text
    restored = httpx.post(f"{server.base_url}/v1/trash/{file_id}/restore", auth=AUTH)
    assert restored.status_code == 200, restored.text
    after, _, _ = _lists(server, file_id)
    assert [v["versionInfo"] for v in after] == [v["versionInfo"] for v in before]


def test_the_files_revision_moves_with_each_change_in_the_database(
    server: ServerProcess,
) -> None:
    """The triggers themselves: no statement can change a file's rows and keep its revision."""
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    uploaded = client.files.upload(file=b"r1", file_name="rev.txt", use_unique_file_name=False)
    file_id = uploaded.file_id
    assert file_id

    def revision() -> int:
        return int(sql(server, f"SELECT revision FROM files WHERE id = '{file_id}'")[0][0])

    seen = [revision()]
    for change in (
        f"UPDATE files SET updated_at = updated_at + 1 WHERE id = '{file_id}'",
        f"UPDATE versions SET description = 'x' WHERE file_id = '{file_id}'",
        f"DELETE FROM versions WHERE file_id = '{file_id}' AND NOT is_current",  # no such row
    ):
        execute_sql(server, change)
        seen.append(revision())
    assert seen[0] < seen[1] < seen[2] == seen[3]
    client.files.upload(file=b"r2", file_name="rev.txt", use_unique_file_name=False)
    assert revision() > seen[3]
    execute_sql(server, f"DELETE FROM versions WHERE file_id = '{file_id}' AND NOT is_current")
    assert revision() > seen[3] + 1


def test_a_file_made_again_at_a_path_is_never_answered_with_the_old_ones_bytes(
    server: ServerProcess,
) -> None:
    """Revisions come from one clock for the library: a new file at the same path (its
    predecessor deleted and purged) starts above every revision its predecessor had."""
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)

    def upload(content: bytes) -> Any:
        return client.files.upload(
            file=content, file_name="again.txt", folder="/again", use_unique_file_name=False
        )

    def revision(file_id: str) -> int:
        return int(sql(server, f"SELECT revision FROM files WHERE id = '{file_id}'")[0][0])

    old = upload(b"the old bytes")
    assert old.file_id and old.url
    for _ in range(4):  # kept by both workers
        assert httpx.get(old.url).content == b"the old bytes"
    last_old = revision(old.file_id)
    client.files.delete(old.file_id)
    purged = httpx.delete(f"{server.base_url}/v1/trash/{old.file_id}", auth=AUTH)
    assert purged.status_code in (200, 204), purged.text

    new = upload(b"new")
    assert new.file_id and new.file_id != old.file_id and new.url
    assert revision(new.file_id) > last_old
    for _ in range(4):
        answer = httpx.get(new.url)
        assert answer.status_code == 200 and answer.content == b"new"
