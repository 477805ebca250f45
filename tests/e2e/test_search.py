"""GET /v1/files: listing, the searchQuery language, folders in results, and errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess


@pytest.fixture
def library(client: ImageKit, folder: str, make_image: Callable[..., bytes]) -> dict[str, object]:
    """A folder holding: cat.jpg (3 versions), dog.png (alpha), notes.txt (private), a sub-folder."""
    put = dict(folder=folder, use_unique_file_name=False)
    cat = [
        client.files.upload(file=make_image(10 + i, 10), file_name="cat.jpg", tags=[f"c{i}"], **put)
        for i in range(3)
    ]
    dog = client.files.upload(
        file=make_image(300, 200, "PNG", (1, 2, 3, 4)),
        file_name="dog.png",
        tags=["pets", "sale"],
        custom_metadata={"brand": "acme", "price": 20},
        **put,
    )
    notes = client.files.upload(
        file=b"hello" * 1000, file_name="notes.txt", is_private_file=True, **put
    )
    client.folders.create(folder_name="sub", parent_folder_path=folder)
    return {"cat": cat, "dog": dog, "notes": notes}


def names(results: list) -> list[tuple[str, str]]:
    return [
        (r.type, r.name if r.type != "file-version" else f"{r.name}#{r.version_info.name}")
        for r in results
    ]


def test_type_and_path_select_files_versions_and_folders(
    client: ImageKit, folder: str, library
) -> None:
    files = client.assets.list(path=folder)
    assert sorted(names(files)) == [("file", "cat.jpg"), ("file", "dog.png"), ("file", "notes.txt")]
    versions = client.assets.list(path=folder, type="file-version")
    assert sorted(names(versions)) == [
        ("file-version", "cat.jpg#Version 1"),
        ("file-version", "cat.jpg#Version 2"),
    ]
    everything = client.assets.list(path=folder, type="all")
    assert names(everything)[0] == ("folder", "sub")
    assert len(everything) == 4 and all(r.type != "file-version" for r in everything)
    folder_only = client.assets.list(path=folder, type="folder")
    assert [(f.type, f.folder_path) for f in folder_only] == [("folder", f"{folder}/sub")]


def test_search_query_for_versions_returns_exactly_the_non_current_ones(
    client: ImageKit, make_image: Callable[..., bytes]
) -> None:
    name = f"v{uuid.uuid4().hex[:10]}.jpg"
    uploads = [
        client.files.upload(file=make_image(5 + i, 5), file_name=name, use_unique_file_name=False)
        for i in range(3)
    ]
    found = client.assets.list(search_query=f'type = "file-version" AND name = "{name}"')
    assert {r.version_info.id for r in found} == {u.version_info.id for u in uploads[:2]}
    assert all(r.type == "file-version" for r in found)
    both = client.assets.list(search_query=f'type IN ["file", "file-version"] AND name = "{name}"')
    assert len(both) == 3
    only_current = client.assets.list(search_query=f'name = "{name}"')
    assert [r.version_info.id for r in only_current] == [uploads[2].version_info.id]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name = "cat.jpg"', ["cat.jpg"]),
        ('name : "do"', ["dog.png"]),
        ('name IN ["cat.jpg", "notes.txt"]', ["cat.jpg", "notes.txt"]),
        # Without a type clause, folders are searched too.
        ('name NOT = "cat.jpg"', ["dog.png", "notes.txt", "sub"]),
        ('name != "cat.jpg"', ["dog.png", "notes.txt", "sub"]),
        ('name NOT IN ["cat.jpg", "dog.png"]', ["notes.txt", "sub"]),
        ('tags IN ["pets"]', ["dog.png"]),
        ('tags IN ["c2", "sale"]', ["cat.jpg", "dog.png"]),
        ('tags NOT IN ["pets"]', ["cat.jpg", "notes.txt", "sub"]),
        ('tags NOT IN ["pets"] AND type = "file"', ["cat.jpg", "notes.txt"]),
        ('tags IN ["c0"]', []),  # a non-current version's tags do not match its file
        ("width > 100", ["dog.png"]),
        ("height <= 10", ["cat.jpg"]),
        ('size > "4kb"', ["notes.txt"]),
        ("size < 1000", ["cat.jpg", "dog.png"]),
        ('size >= "1mb"', []),
        ('format = "png"', ["dog.png"]),
        ('format IN ["jpg", "txt"]', ["cat.jpg", "notes.txt"]),
        ("private = true", ["notes.txt"]),
        ("published = false", []),
        ("transparency = true", ["dog.png"]),
        ('"customMetadata.brand" = "acme"', ["dog.png"]),
        ('"customMetadata.price" > 10', ["dog.png"]),
        ('"customMetadata.price" < 10', []),
        ('"customMetadata.brand" > 10', []),  # a text value is never compared as a number
        ('createdAt > "1h"', ["cat.jpg", "dog.png", "notes.txt", "sub"]),
        ('createdAt < "2000-01-01T00:00:00Z"', []),
        ('updatedAt >= "2020-01-01"', ["cat.jpg", "dog.png", "notes.txt", "sub"]),
        ('name = "cat.jpg" OR (tags IN ["pets"] AND width > 100)', ["cat.jpg", "dog.png"]),
        ('(name = "cat.jpg" OR name = "dog.png") AND private = false', ["cat.jpg", "dog.png"]),
        ('type = "folder"', ["sub"]),
        ('name = "sub"', ["sub"]),
        ('name = "sub" AND type = "file"', []),
    ],
)
def test_search_language(client: ImageKit, folder: str, library, query: str, expected) -> None:
    found = client.assets.list(search_query=query, path=folder)
    assert sorted(r.name for r in found) == sorted(expected)


def test_sort_skip_limit_and_file_type(client: ImageKit, folder: str, library) -> None:
    by_name = client.assets.list(path=folder, sort="DESC_NAME")
    assert [r.name for r in by_name] == ["notes.txt", "dog.png", "cat.jpg"]
    by_size = client.assets.list(path=folder, sort="ASC_SIZE")
    assert [r.size for r in by_size] == sorted(r.size for r in by_size)
    page = client.assets.list(path=folder, sort="ASC_NAME", skip=1, limit=1)
    assert [r.name for r in page] == ["dog.png"]
    images = client.assets.list(path=folder, file_type="image")
    assert sorted(r.name for r in images) == ["cat.jpg", "dog.png"]
    others = client.assets.list(path=folder, file_type="non-image")
    assert [r.name for r in others] == ["notes.txt"]
    mixed = client.assets.list(path=folder, type="all", sort="ASC_NAME", skip=0, limit=2)
    assert names(mixed) == [("folder", "sub"), ("file", "cat.jpg")]
    rest = client.assets.list(path=folder, type="all", sort="ASC_NAME", skip=2, limit=5)
    assert names(rest) == [("file", "dog.png"), ("file", "notes.txt")]


def test_legacy_tags_and_name_parameters(server: ServerProcess, folder: str, library) -> None:
    url = f"{server.base_url}/v1/files"
    tagged = httpx.get(url, params={"path": folder, "tags": "pets, c2"}, auth=(TEST_KEY, ""))
    assert sorted(r["name"] for r in tagged.json()) == ["cat.jpg", "dog.png"]
    named = httpx.get(url, params={"path": folder, "name": "notes.txt"}, auth=(TEST_KEY, ""))
    assert [r["name"] for r in named.json()] == ["notes.txt"]


def test_folder_objects_have_the_documented_shape(
    server: ServerProcess, folder: str, library
) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/files",
        params={"path": folder, "type": "folder"},
        auth=(TEST_KEY, ""),
    )
    (item,) = response.json()
    assert set(item) == {
        "type", "folderId", "name", "folderPath", "customMetadata", "createdAt", "updatedAt"
    }  # fmt: skip
    assert item["folderPath"] == f"{folder}/sub" and len(item["folderId"]) == 24


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"skip": "-1"},
            "The value of skip parameter should be greater than or equal to 0. Value sent is -1.",
        ),
        ({"limit": "0"}, "Minimum value of limit parameter is 1. Value sent is 0."),
        ({"limit": "2000"}, "Maximum value of limit parameter is 1000. Value sent is 2000."),
        ({"sort": "ASC_COLOR"}, "Your request contains invalid value for sort parameters."),
        (
            {"type": "everything"},
            "Your request contains invalid value for type parameter. Please provide one of the "
            "following: file, file-version, folder, all.",
        ),
        (
            {"searchQuery": "createdAt > 7d"},
            "Invalid search query - createdAt field must have a valid date value. Make sure the "
            "value is enclosed within quotes. Please refer to the documentation for syntax "
            "specification.",
        ),
    ],
)
def test_invalid_list_parameters_are_400(
    server: ServerProcess, params: dict[str, str], message: str
) -> None:
    response = httpx.get(f"{server.base_url}/v1/files", params=params, auth=(TEST_KEY, ""))
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_query_syntax_errors_through_the_sdk(client: ImageKit) -> None:
    for query in ['name = "x" AND', 'name == "x"', "(", 'colour = "red"', "name = x"]:
        with pytest.raises(imagekitio.BadRequestError) as bad:
            client.assets.list(search_query=query)
        assert bad.value.body["message"].startswith("Invalid search query - ")
