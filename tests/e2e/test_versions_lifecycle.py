"""The whole file-version lifecycle through the official SDK, as the spec's worked example."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import ServerProcess, blob_files, check_invariants, staging_count


def upload(client: ImageKit, content: bytes, folder: str, name: str = "cat.jpg", **kw: object):
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def test_worked_example_of_the_spec(
    client: ImageKit, folder: str, data: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    v1_bytes, v2_bytes, v3_bytes = make_image(40, 30), make_image(60, 50, "PNG"), b"plain text"

    first = upload(client, v1_bytes, folder)
    file_id = first.file_id
    assert first.version_info.id == file_id
    assert first.version_info.name == "Version 1"
    assert first.file_path == f"{folder}/cat.jpg"
    assert (first.width, first.height, first.size) == (40, 30, len(v1_bytes))

    second = upload(client, v2_bytes, folder)
    assert second.file_id == file_id
    assert second.version_info.name == "Version 2"
    v2 = second.version_info.id
    assert v2 != file_id and len(v2) == 24 and int(v2, 16) >= 0

    listed = client.files.versions.list(file_id)
    assert [(v.type, v.version_info.name) for v in listed] == [
        ("file", "Version 2"),
        ("file-version", "Version 1"),
    ]
    current, older = listed
    assert current.mime == "image/png" and current.has_alpha is False
    assert (current.width, current.height) == (60, 50)
    assert older.mime == "image/jpeg" and (older.width, older.height) == (40, 30)
    assert "ik-obj-version=" not in current.url
    assert "ik-obj-version=" in older.url and "updatedAt=" in older.url
    assert httpx.get(current.url).content == v2_bytes
    assert httpx.get(older.url).content == v1_bytes

    one = client.files.versions.get(file_id, file_id=file_id)
    assert one.type == "file-version" and one.version_info.name == "Version 1"
    assert client.files.versions.get(v2, file_id=file_id).type == "file"

    restored = client.files.versions.restore(file_id, file_id=file_id)
    assert restored.type == "file"
    assert restored.version_info.id == file_id and restored.version_info.name == "Version 1"
    assert len(client.files.versions.list(file_id)) == 2
    assert httpx.get(restored.url).content == v1_bytes
    details = client.files.get(file_id)
    assert details.version_info.id == file_id and details.size == len(v1_bytes)

    # Restoring the current version again is a no-op.
    again = client.files.versions.restore(file_id, file_id=file_id)
    assert again.version_info.id == file_id and again.updated_at == restored.updated_at

    third = upload(client, v3_bytes, folder)
    assert third.version_info.name == "Version 3"
    assert third.file_type == "non-image"
    v3 = third.version_info.id

    with pytest.raises(imagekitio.BadRequestError) as refused:
        client.files.versions.delete(v3, file_id=file_id)
    assert refused.value.body["message"] == "You cannot delete current version of a file."

    old_v2_url = next(v.url for v in client.files.versions.list(file_id) if v.version_info.id == v2)
    assert client.files.versions.delete(v2, file_id=file_id) is None
    names = [v.version_info.name for v in client.files.versions.list(file_id)]
    assert names == ["Version 3", "Version 1"]
    assert httpx.get(old_v2_url).status_code == 404

    # Numbers are never reused, not even the deleted one's.
    assert upload(client, make_image(10, 10), folder).version_info.name == "Version 4"
    check_invariants(data)

    urls = [v.url for v in client.files.versions.list(file_id)]
    assert client.files.delete(file_id) is None
    with pytest.raises(imagekitio.NotFoundError):
        client.files.get(file_id)
    with pytest.raises(imagekitio.NotFoundError):
        client.files.versions.list(file_id)
    assert [httpx.get(u).status_code for u in urls] == [404] * len(urls)
    check_invariants(data)


def test_upload_response_has_the_upload_api_shape(
    client: ImageKit, folder: str, server, make_image: Callable[..., bytes]
) -> None:
    raw = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=(client.private_key, ""),
        data={"fileName": "shape.jpg", "folder": folder, "useUniqueFileName": "false"},
        files={"file": ("upload", make_image(), "application/octet-stream")},
    )
    assert raw.status_code == 200
    body = raw.json()
    endpoint = f"{server.base_url}/media"
    assert body["url"] == f"{endpoint}{folder}/shape.jpg"
    assert body["thumbnailUrl"] == f"{endpoint}/tr:n-ik_ml_thumbnail{folder}/shape.jpg"
    assert set(body) == {
        "fileId", "name", "size", "versionInfo", "filePath", "url", "fileType",
        "height", "width", "thumbnailUrl",
    }  # fmt: skip
    assert raw.headers["x-ik-requestid"]


def test_response_fields_add_the_requested_keys(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    result = client.files.upload(
        file=make_image(),
        file_name="fields.jpg",
        folder=folder,
        tags=["a"],
        response_fields=["tags", "isPrivateFile", "customCoordinates", "metadata"],
    )
    extra = result.to_dict()
    assert extra["tags"] == ["a"]
    assert extra["isPrivateFile"] is False
    assert extra["customCoordinates"] is None
    assert extra["metadata"]["width"] == 40 and extra["metadata"]["format"] == "jpeg"
    assert "isPublished" not in extra


def test_file_object_carries_every_snapshot_field(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    uploaded = client.files.upload(
        file=make_image(),
        file_name="full.jpg",
        folder=folder,
        tags=["t1", "t2"],
        custom_coordinates="1,2,3,4",
        custom_metadata={"brand": "acme", "price": 10},
        description="a red rectangle",
    )
    body = client.files.with_raw_response.get(uploaded.file_id).json()
    assert body["type"] == "file"
    assert body["tags"] == ["t1", "t2"]
    assert body["AITags"] is None
    assert body["customCoordinates"] == "1,2,3,4"
    assert body["customMetadata"] == {"brand": "acme", "price": 10}
    assert body["description"] == "a red rectangle"
    assert body["isPrivateFile"] is False and body["isPublished"] is True
    assert body["fileType"] == "image" and body["mime"] == "image/jpeg"
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == 24
    for key in ("name", "filePath", "size", "width", "height", "hasAlpha", "url", "thumbnail"):
        assert key in body
    assert body["versionInfo"] == {"id": uploaded.file_id, "name": "Version 1"}


def test_unique_file_names_make_new_files(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    a = client.files.upload(file=make_image(), file_name="same.jpg", folder=folder)
    b = client.files.upload(file=make_image(), file_name="same.jpg", folder=folder)
    assert a.file_id != b.file_id
    for result in (a, b):
        assert result.name.startswith("same_") and result.name.endswith(".jpg")
        assert len(result.name) == len("same_.jpg") + 11
        assert result.version_info.name == "Version 1"


def test_overwrite_file_false_refuses_and_stores_nothing(
    client: ImageKit, folder: str, data: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    first = upload(client, make_image(), folder, name="keep.jpg")
    blobs_before = blob_files(data)
    with pytest.raises(imagekitio.BadRequestError) as refused:
        upload(client, b"other bytes", folder, name="keep.jpg", overwrite_file=False)
    assert refused.value.body == {
        "message": "A file with the same name already exists at the exact location. We could "
        "not overwrite it because both overwriteFile and useUniqueFileName are set to false.",
        "help": "See docs/errors.md in the mediavault documentation.",
    }
    assert len(client.files.versions.list(first.file_id)) == 1
    assert blob_files(data) == blobs_before
    assert staging_count(data) == 0


def test_overwrite_flags_decide_what_a_new_version_keeps(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    first = upload(
        client,
        make_image(),
        folder,
        tags=["old"],
        custom_metadata={"k": "v"},
        custom_coordinates="1,1,2,2",
        description="first",
    )
    file_id = first.file_id
    upload(client, make_image(11, 11), folder)  # defaults: overwrite everything
    plain = client.files.get(file_id)
    assert plain.tags is None and plain.custom_metadata == {}
    assert plain.custom_coordinates is None and plain.description is None

    upload(client, make_image(12, 12), folder, tags=["new"], custom_metadata={"k": "w"})
    upload(
        client,
        make_image(13, 13),
        folder,
        overwrite_tags=False,
        overwrite_custom_metadata=False,
        overwrite_ai_tags=False,
    )
    kept = client.files.get(file_id)
    assert kept.tags == ["new"] and kept.custom_metadata == {"k": "w"}
    assert kept.version_info.name == "Version 4"

    upload(client, make_image(14, 14), folder, tags=["wins"], overwrite_tags=False)
    assert client.files.get(file_id).tags == ["wins"]

    # Older versions keep their own snapshots.
    versions = {v.version_info.name: v for v in client.files.versions.list(file_id)}
    assert versions["Version 1"].tags == ["old"] and versions["Version 1"].description == "first"
    assert versions["Version 1"].custom_coordinates == "1,1,2,2"


def test_update_details_acts_on_the_current_version_only(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    first = upload(client, make_image(), folder, tags=["v1"])
    upload(client, make_image(20, 20), folder, tags=["v2"])
    file_id = first.file_id
    updated = client.files.update(
        file_id,
        tags=["edited"],
        custom_coordinates="5,5,10,10",
        custom_metadata={"a": 1, "b": "x"},
        description="edited",
        remove_ai_tags="all",
    )
    assert updated.version_info.name == "Version 2"
    assert updated.tags == ["edited"] and updated.custom_coordinates == "5,5,10,10"
    assert updated.custom_metadata == {"a": 1, "b": "x"} and updated.description == "edited"
    merged = client.files.update(file_id, custom_metadata={"a": None, "c": True})
    assert merged.custom_metadata == {"b": "x", "c": True}
    cleared = client.files.update(file_id, tags=None, custom_coordinates=None)
    assert cleared.tags is None and cleared.custom_coordinates is None
    assert cleared.custom_metadata == {"b": "x", "c": True}
    versions = client.files.versions.list(file_id)
    assert len(versions) == 2
    assert versions[1].tags == ["v1"]


def test_unpublishing_hides_a_version_from_delivery(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    first = upload(client, make_image(), folder)
    upload(client, make_image(21, 21), folder)
    file_id = first.file_id
    before = {v.version_info.id: v.url for v in client.files.versions.list(file_id)}
    assert all(httpx.get(u).status_code == 200 for u in before.values())

    hidden = client.files.update(file_id, publish={"is_published": False})
    assert hidden.is_published is False
    assert httpx.get(hidden.url).status_code == 404
    versions = client.files.versions.list(file_id)
    assert [v.is_published for v in versions] == [False, True]

    client.files.update(file_id, publish={"is_published": False, "include_file_versions": True})
    old_version_url = before[file_id]
    assert httpx.get(old_version_url).status_code == 404

    shown = client.files.update(
        file_id, publish={"is_published": True, "include_file_versions": True}
    )
    assert httpx.get(shown.url).status_code == 200
    # The version's token changed with its publish state: the old URL stays retired.
    assert httpx.get(old_version_url).status_code == 404
    new_urls = [v.url for v in client.files.versions.list(file_id)]
    assert all(httpx.get(u).status_code == 200 for u in new_urls)


def test_bulk_delete_removes_every_version_of_each_file(
    client: ImageKit, folder: str, data: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    a = upload(client, make_image(), folder, name="a.jpg")
    upload(client, make_image(9, 9), folder, name="a.jpg")
    b = upload(client, make_image(8, 8), folder, name="b.jpg")
    result = client.files.bulk.delete(file_ids=[a.file_id, b.file_id])
    assert result.successfully_deleted_file_ids == [a.file_id, b.file_id]
    for file_id in (a.file_id, b.file_id):
        with pytest.raises(imagekitio.NotFoundError):
            client.files.get(file_id)
    check_invariants(data)


def test_identical_bytes_are_stored_once_and_freed_with_the_last_reference(
    client: ImageKit, folder: str, data: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    content = make_image(33, 17)
    digest = hashlib.sha256(content).hexdigest()
    first = upload(client, content, folder, name="dup.jpg")
    second = upload(client, content, folder, name="dup.jpg")
    other = upload(client, content, folder, name="other.jpg")
    assert blob_files(data)[digest] == len(content)
    client.files.versions.delete(first.version_info.id, file_id=first.file_id)
    assert digest in blob_files(data)
    client.files.delete(first.file_id)
    assert digest in blob_files(data)
    assert second.version_info.name == "Version 2"
    client.files.delete(other.file_id)
    # Deleted files wait in the trash with their bytes (MEDIAVAULT_TRASH_DAYS); purged, the
    # last reference goes.
    assert digest in blob_files(data)
    for file_id in (first.file_id, other.file_id):
        purged = httpx.delete(f"{data.base_url}/v1/trash/{file_id}", auth=(client.private_key, ""))
        assert purged.status_code == 204
    assert digest not in blob_files(data)
    check_invariants(data)
