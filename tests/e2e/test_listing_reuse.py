"""GET /v1/files puts its answer together from File objects each worker keeps by version and
file revision (api/routes/assets.py): a listing asked for again reads ids and revisions first,
and only the records of what changed. Whatever changed, and however, the answer must be the
bytes a worker that kept nothing makes.

Two workers, so a change made through one is listed by the other. The reference answer is the
same listing with a `limit` no one asked for before (larger than the results): a listing a
worker has not seen reads every record at once and reuses nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit

from tests.faults import execute_sql
from tests.support import TEST_KEY, ServerProcess, free_port

AUTH = (TEST_KEY, "")
FILES = 8
LISTINGS = [
    {"path": "/shelf/", "type": "all"},
    {"path": "/shelf/", "sort": "DESC_NAME", "skip": "2", "limit": "5"},
    {"searchQuery": 'tags IN ["book"]', "sort": "ASC_SIZE"},
    {"type": "file-version", "path": "/shelf/"},
    {"type": "all", "searchQuery": 'name : "vol"'},
    # A relative date is read anew each time: the listing is still the one asked before.
    {"searchQuery": 'createdAt > "1d" AND name : "vol"', "sort": "DESC_NAME"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("listing-reuse") / "data"
    process = ServerProcess(data=data, port=free_port(), workers=2).start()
    try:
        yield process
    finally:
        process.stop()


_unasked_limits = itertools.count(999, -1)


def _agree(server: ServerProcess) -> list[list[Any]]:
    """Every listing, asked enough times to be answered again by both workers, the same bytes
    as a listing no worker has seen; returns each listing's results."""
    results = []
    for params in LISTINGS:
        wanted = int(params.get("limit", "1000"))
        fresh = httpx.get(
            f"{server.base_url}/v1/files",
            params={**params, "limit": str(next(_unasked_limits)), "skip": params.get("skip", "0")},
            auth=AUTH,
        )
        assert fresh.status_code == 200, fresh.text
        assert len(fresh.json()) < 900  # the unasked limit cut nothing
        expected = fresh.json()[:wanted]
        for _ in range(4):
            again = httpx.get(f"{server.base_url}/v1/files", params=params, auth=AUTH)
            assert again.status_code == 200, again.text
            assert again.headers["content-type"] == "application/json"
            assert again.json() == expected, params
            if wanted >= len(fresh.json()):
                assert again.content == fresh.content, params
        results.append(expected)
    return results


def test_a_listing_asked_again_shows_every_change_as_a_fresh_one_would(
    server: ServerProcess,
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)

    def upload(n: int, content: bytes) -> Any:
        return client.files.upload(
            file=content,
            file_name=f"vol{n}.txt",
            folder="/shelf",
            use_unique_file_name=False,
            tags=["book"],
        )

    ids = [upload(n, b"x" * (n + 1)).file_id for n in range(FILES)]
    assert all(ids)
    client.folders.create(folder_name="annex", parent_folder_path="/shelf")
    listed = _agree(server)
    assert len([i for i in listed[0] if i["type"] == "file"]) == FILES
    assert listed[0][0]["type"] == "folder"  # folders first

    def check(change: Callable[[], object], shows: Callable[[list[Any]], bool]) -> None:
        before = _agree(server)
        change()
        after = _agree(server)
        assert after != before
        assert shows(after[0]), after[0]

    def named(items: list[Any], name: str) -> Any:
        return next(i for i in items if i.get("name") == name and i["type"] == "file")

    # One file changes: its record is read by id, the others' answers reused.
    check(
        lambda: client.files.update(ids[0], tags=["book", "edited"]),
        lambda items: named(items, "vol0.txt")["tags"] == ["book", "edited"],
    )
    check(
        lambda: upload(1, b"a new version"),
        lambda items: named(items, "vol1.txt")["versionInfo"]["name"] == "Version 2",
    )
    check(
        lambda: client.files.update(ids[2], custom_coordinates="1,2,3,4"),
        lambda items: named(items, "vol2.txt")["customCoordinates"] == "1,2,3,4",
    )
    check(
        lambda: client.files.rename(file_path="/shelf/vol3.txt", new_file_name="vol3b.txt"),
        lambda items: named(items, "vol3b.txt")["filePath"] == "/shelf/vol3b.txt",
    )
    check(
        lambda: client.files.move(source_file_path="/shelf/vol4.txt", destination_path="/away"),
        lambda items: all(i.get("name") != "vol4.txt" for i in items),
    )
    check(
        lambda: client.files.delete(ids[5]),
        lambda items: all(i.get("fileId") != ids[5] for i in items),
    )
    # Changed by SQL behind the servers' backs: the database moves the revision itself.
    check(
        lambda: execute_sql(
            server, f"UPDATE versions SET description = 'by sql' WHERE file_id = '{ids[6]}'"
        ),
        lambda items: named(items, "vol6.txt").get("description") == "by sql",
    )
    # Most of the page changes: the page's statement runs again for every record.
    remaining = [ids[n] for n in (0, 1, 2, 3, 6, 7)]
    check(
        lambda: [client.files.update(i, tags=["book", "reshelved"]) for i in remaining],
        lambda items: all(i["tags"] == ["book", "reshelved"] for i in items if i["type"] == "file"),
    )
    # A new file in the folder, listed among the reused ones.
    check(
        lambda: upload(9, b"the last volume"),
        lambda items: named(items, "vol9.txt")["size"] == len(b"the last volume"),
    )
