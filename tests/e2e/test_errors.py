"""Every documented error: status, message and ImageKit's error shape."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, blob_files, staging_count

HELP = "See docs/errors.md in the mediavault documentation."
UNKNOWN_ID = "0123456789abcdef01234567"


def error(exc: pytest.ExceptionInfo[imagekitio.APIStatusError]) -> tuple[int, str]:
    body = exc.value.body
    assert isinstance(body, dict) and body["help"] == HELP
    return exc.value.status_code, body["message"]


@pytest.fixture
def uploaded(client: ImageKit, folder: str, make_image: Callable[..., bytes]):
    return client.files.upload(file=make_image(), file_name="e.jpg", folder=folder)


def test_missing_key_is_401_and_wrong_key_is_403(server: ServerProcess) -> None:
    url = f"{server.base_url}/v1/files/{UNKNOWN_ID}/versions"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json() == {
        "message": "Your request does not contain private API key.",
        "help": HELP,
    }
    for header in ("Bearer abc", "Basic !!!notbase64", "Basic " + "OnBhc3N3b3Jk"):  # ":password"
        assert httpx.get(url, headers={"Authorization": header}).status_code == 401
    wrong = httpx.get(url, auth=("private_wrong", ""))
    assert wrong.status_code == 403
    assert wrong.json()["message"] == "Your account cannot be authenticated."
    # The password is ignored: the 5.x SDK sends "do_not_set".
    assert httpx.get(url, auth=(TEST_KEY, "anything")).status_code == 404


def test_wrong_key_through_the_sdk_raises_permission_denied(server: ServerProcess) -> None:
    other = ImageKit(private_key="private_nope", base_url=server.base_url, max_retries=0)
    with pytest.raises(imagekitio.PermissionDeniedError) as denied:
        other.files.versions.list(UNKNOWN_ID)
    assert error(denied) == (403, "Your account cannot be authenticated.")


def test_auth_is_checked_before_parameters(server: ServerProcess) -> None:
    assert httpx.get(f"{server.base_url}/v1/files/not-an-id/details").status_code == 401
    assert httpx.post(f"{server.base_url}/api/v1/files/upload").status_code == 401


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.files.versions.list("bad"),
        lambda c: c.files.versions.get(UNKNOWN_ID, file_id="bad"),
        lambda c: c.files.versions.delete(UNKNOWN_ID, file_id="bad"),
        lambda c: c.files.versions.restore(UNKNOWN_ID, file_id="bad"),
        lambda c: c.files.get("bad"),
        lambda c: c.files.update("bad", tags=["x"]),
        lambda c: c.files.delete("bad"),
    ],
)
def test_malformed_file_ids_are_400(client: ImageKit, call) -> None:
    with pytest.raises(imagekitio.BadRequestError) as bad:
        call(client)
    assert error(bad) == (400, "Your request contains invalid fileId parameter.")


@pytest.mark.parametrize(
    "call",
    [
        lambda c, f: c.files.versions.get("123", file_id=f),
        lambda c, f: c.files.versions.delete("zzzzzzzzzzzzzzzzzzzzzzzz", file_id=f),
        lambda c, f: c.files.versions.restore(UNKNOWN_ID + "0", file_id=f),
    ],
)
def test_malformed_version_ids_are_400(client: ImageKit, uploaded, call) -> None:
    with pytest.raises(imagekitio.BadRequestError) as bad:
        call(client, uploaded.file_id)
    assert error(bad) == (400, "Your request contains invalid versionId parameter.")


def test_unknown_files_and_versions_are_404_with_the_documented_wording(
    client: ImageKit, uploaded
) -> None:
    expectations = [
        (lambda: client.files.versions.list(UNKNOWN_ID), "The requested asset does not exist."),
        (
            lambda: client.files.versions.get(UNKNOWN_ID, file_id=UNKNOWN_ID),
            "The requested asset does not exist.",
        ),
        (
            lambda: client.files.versions.get(UNKNOWN_ID, file_id=uploaded.file_id),
            "The requested asset does not exist.",
        ),
        (
            lambda: client.files.versions.delete(UNKNOWN_ID, file_id=uploaded.file_id),
            "The requested asset does not exist.",
        ),
        (
            lambda: client.files.versions.restore(UNKNOWN_ID, file_id=UNKNOWN_ID),
            "The requested file does not exist.",
        ),
        (
            lambda: client.files.versions.restore(UNKNOWN_ID, file_id=uploaded.file_id),
            "The requested file version does not exist.",
        ),
        (lambda: client.files.get(UNKNOWN_ID), "The requested file does not exist."),
        (lambda: client.files.update(UNKNOWN_ID, tags=["a"]), "The requested file does not exist."),
        (lambda: client.files.delete(UNKNOWN_ID), "The requested file does not exist."),
    ]
    for call, message in expectations:
        with pytest.raises(imagekitio.NotFoundError) as missing:
            call()
        assert error(missing) == (404, message)


def test_a_version_of_another_file_is_not_found(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    a = client.files.upload(file=make_image(), file_name="a.jpg", folder=folder)
    b = client.files.upload(file=make_image(), file_name="b.jpg", folder=folder)
    with pytest.raises(imagekitio.NotFoundError):
        client.files.versions.get(b.version_info.id, file_id=a.file_id)
    with pytest.raises(imagekitio.NotFoundError):
        client.files.versions.restore(b.version_info.id, file_id=a.file_id)


def test_upload_without_file_or_file_name_is_400(server: ServerProcess, folder: str) -> None:
    url = f"{server.base_url}/api/v1/files/upload"
    auth = (TEST_KEY, "")
    no_file = httpx.post(url, auth=auth, files={"fileName": (None, "x.jpg")})
    assert no_file.status_code == 400
    assert no_file.json()["message"] == "Your request is missing file parameter."
    no_name = httpx.post(url, auth=auth, files={"file": ("upload", b"abc")})
    assert no_name.status_code == 400
    assert no_name.json()["message"] == "Your request is missing fileName parameter."
    not_multipart = httpx.post(url, auth=auth, json={"fileName": "x"})
    assert not_multipart.status_code == 400
    assert not_multipart.json()["message"].startswith("Your request is missing file parameter.")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"useUniqueFileName": "yes"},
            "Your request contains invalid useUniqueFileName parameter.",
        ),
        ({"isPrivateFile": "1"}, "Your request contains invalid isPrivateFile parameter."),
        ({"customMetadata": "[1]"}, "Your request contains invalid customMetadata parameter."),
        ({"customMetadata": "{bad"}, "Your request contains invalid customMetadata parameter."),
        (
            {"customCoordinates": "1,2,3"},
            "Your request contains invalid customCoordinates parameter.",
        ),
        ({"tags": "a%b"}, "Your request contains invalid tags parameter."),
        ({"tags": "x" * 501}, "Your request contains invalid tags parameter."),
        (
            {"responseFields": "tags,bogus"},
            "Your request contains invalid responseFields parameter.",
        ),
        (
            {"extensions": '[{"name":"remove-bg"}]'},
            "Your request contains invalid extensions parameter.",
        ),
        ({"fileName": "..."}, "Your request contains invalid fileName parameter."),
    ],
)
def test_invalid_upload_fields_are_400_and_store_nothing(
    server: ServerProcess, folder: str, fields: dict[str, str], message: str
) -> None:
    before = blob_files(server)
    form = {"fileName": "f.jpg", "folder": folder, **fields}
    response = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=(TEST_KEY, ""),
        data=form,
        files={"file": ("upload", b"some bytes never stored " + folder.encode())},
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert blob_files(server) == before
    assert staging_count(server) == 0


def test_the_101st_version_is_refused(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    content = make_image(5, 5)
    first = client.files.upload(
        file=content, file_name="many.jpg", folder=folder, use_unique_file_name=False
    )
    for _ in range(99):
        client.files.upload(
            file=content, file_name="many.jpg", folder=folder, use_unique_file_name=False
        )
    assert len(client.files.versions.list(first.file_id)) == 100
    with pytest.raises(imagekitio.BadRequestError) as full:
        client.files.upload(
            file=content, file_name="many.jpg", folder=folder, use_unique_file_name=False
        )
    assert error(full) == (400, "A file can have a maximum of 100 versions.")
    assert len(client.files.versions.list(first.file_id)) == 100


def test_bulk_delete_with_any_unknown_id_deletes_nothing(client: ImageKit, uploaded) -> None:
    with pytest.raises(imagekitio.NotFoundError) as missing:
        client.files.bulk.delete(file_ids=[uploaded.file_id, UNKNOWN_ID, "junk"])
    assert error(missing) == (404, "The requested file(s) does not exist.")
    assert missing.value.body["missingFileIds"] == [UNKNOWN_ID, "junk"]
    assert client.files.get(uploaded.file_id).file_id == uploaded.file_id


def test_unknown_routes_and_wrong_methods_answer_in_imagekit_shape(server: ServerProcess) -> None:
    auth = (TEST_KEY, "")
    for method, path in [
        ("GET", "/v1/nothing-here"),
        ("GET", "/nothing"),
        ("POST", f"/v1/files/{UNKNOWN_ID}/versions"),
        ("GET", "/api/v1/files/upload"),
    ]:
        response = httpx.request(method, server.base_url + path, auth=auth)
        assert response.status_code == 404, (method, path)
        assert response.json() == {
            "message": "The requested API endpoint does not exist.",
            "help": HELP,
        }


def test_empty_json_bodies_on_restore_and_delete_are_accepted(
    client: ImageKit, folder: str, server: ServerProcess, make_image: Callable[..., bytes]
) -> None:
    first = client.files.upload(
        file=make_image(), file_name="x.jpg", folder=folder, use_unique_file_name=False
    )
    second = client.files.upload(
        file=make_image(7, 7), file_name="x.jpg", folder=folder, use_unique_file_name=False
    )
    headers = {"Content-Type": "application/json", "Content-Length": "0"}
    base = f"{server.base_url}/v1/files/{first.file_id}/versions"
    restored = httpx.put(f"{base}/{first.file_id}/restore", headers=headers, auth=(TEST_KEY, ""))
    assert restored.status_code == 200 and restored.json()["versionInfo"]["name"] == "Version 1"
    deleted = httpx.delete(f"{base}/{second.version_info.id}", headers=headers, auth=(TEST_KEY, ""))
    assert deleted.status_code == 204 and deleted.content == b""
