"""Hostile input, table by table, against a real server.

Every case must end in a 400 or 404 in ImageKit's error shape, or, for names, in a harmless
normalised name; never a 5xx, nothing logged as a server fault, and nothing may be written
outside the data folder. Each table row is one test, so a failure names the input that broke
the server.
"""

from __future__ import annotations

import http.client
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from imagekitio import ImageKit
from PIL import Image

from tests.server_log import LogCursor
from tests.support import TEST_KEY, ServerProcess, check_invariants

HELP = "See docs/errors.md in the mediavault documentation."
AUTH = (TEST_KEY, "")
UNKNOWN_ID = "0123456789abcdef01234567"


def _tree(root: Path, skip: Path) -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        found.update(str(Path(folder, name)) for name in files + dirs)
    return found


@pytest.fixture(autouse=True)
def nothing_written_outside_the_data_folder(server: ServerProcess) -> Iterator[None]:
    outside = server.data.parent
    before = _tree(outside, skip=server.data)
    yield
    assert _tree(outside, skip=server.data) == before
    for target in ("/etc/evil.jpg", "/tmp/escape", "/tmp/evil.jpg", "/evil.jpg"):
        assert not Path(target).exists(), target


@pytest.fixture(autouse=True)
def no_server_fault(server: ServerProcess) -> Iterator[None]:
    """No row may be a 5xx: every server fault is logged at ERROR (api/errors.answer_for), so
    none may appear, whatever status a row asserts."""
    log = LogCursor(server)
    yield
    faults = [r for r in log.records(wait_for="", timeout=0) if r.level in ("ERROR", "CRITICAL")]
    assert faults == []


@pytest.fixture(scope="module")
def ids(server: ServerProcess) -> dict[str, str]:
    """Real ids, so that body checks are reached past the lookups."""
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    first = client.files.upload(file=b"v1", file_name="h.txt", folder="/hostile")
    client.files.upload(file=b"v2", file_name="h.txt", folder="/hostile")
    field = client.custom_metadata_fields.create(
        name="hostile", label="Hostile", schema={"type": "Text"}
    )
    assert first.file_id and first.version_info and first.version_info.id
    return {"file": first.file_id, "version": first.version_info.id, "field": field.id}


def assert_imagekit_error(response: httpx.Response, status: int, message: str = "") -> None:
    assert response.status_code < 500, response.text
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"message", "help"} and body["help"] == HELP, body
    assert body["message"].startswith(message), body["message"]


# --- JSON bodies: wrong types, wrong shapes, hostile encodings ------------------------------

JSON_BODIES: list[tuple[str, str, Any, str]] = [
    # Not JSON at all, or not an object.
    ("POST", "/v1/files/copy", b"not json", "Your request body is not valid JSON."),
    ("POST", "/v1/files/copy", b"[1, 2]", "Your request body must be a JSON object."),
    ("POST", "/v1/files/copy", b'"text"', "Your request body must be a JSON object."),
    ("POST", "/v1/files/copy", b'{"sourceFilePath": "\xff\xfe"}', "Your request body is not valid JSON."),
    ("POST", "/v1/files/copy", b"[" * 100_000, "Your request body is not valid JSON."),
    ("POST", "/v1/files/copy", b'{"sourceFilePath": NaN}', "Your request body is not valid JSON."),
    ("PUT", "/v1/files/rename", b'{"filePath": "/a", "newFileName": Infinity}', "Your request body is not valid JSON."),
    # NUL characters: PostgreSQL can store none, so no value may hold one.
    ("POST", "/v1/files/copy", {"sourceFilePath": "/a\u0000.jpg", "destinationPath": "/b"}, "Your request contains invalid sourceFilePath parameter. It contains a NUL character."),
    ("POST", "/v1/files/addTags", {"fileIds": ["{file}"], "tags": ["t\u0000"]}, "Your request contains invalid tags parameter. It contains a NUL character."),
    ("POST", "/v1/files/batch/deleteByFileIds", {"fileIds": ["\u0000"]}, "Your request contains invalid fileIds parameter. It contains a NUL character."),
    ("PATCH", "/v1/files/{file}/details", {"description": "x\u0000y"}, "Your request contains invalid description parameter. It contains a NUL character."),
    ("PATCH", "/v1/files/{file}/details", {"customMetadata": {"brand\u0000": "x"}}, "Your request contains invalid customMetadata parameter. It contains a NUL character."),
    ("POST", "/v1/folder", {"folderName": "a\u0000", "parentFolderPath": "/"}, "Your request contains invalid folderName parameter. It contains a NUL character."),
    ("POST", "/v1/customMetadataFields", {"name": "n", "label": "L", "schema": {"type": "SingleSelect", "selectOptions": ["a\u0000"]}}, "Your request contains invalid schema parameter. It contains a NUL character."),
    # Wrong types and missing keys.
    ("POST", "/v1/files/copy", {"sourceFilePath": 5, "destinationPath": "/x"}, "Your request contains invalid sourceFilePath parameter."),
    ("POST", "/v1/files/copy", {"sourceFilePath": "/a.jpg"}, "Your request is missing parameters: destinationPath."),
    ("POST", "/v1/files/copy", {"sourceFilePath": "/a", "destinationPath": "/b", "includeFileVersions": "yes"}, "Your request contains invalid includeFileVersions parameter."),
    ("POST", "/v1/files/move", {"sourceFilePath": ["/a"], "destinationPath": "/b"}, "Your request contains invalid sourceFilePath parameter."),
    ("PUT", "/v1/files/rename", {"filePath": {}, "newFileName": "x"}, "Your request contains invalid filePath parameter."),
    ("PUT", "/v1/files/rename", {"filePath": "/a", "newFileName": "   "}, "Your request contains invalid newFileName parameter."),
    ("POST", "/v1/files/addTags", {"fileIds": "abc", "tags": ["a"]}, "fileIds should be an Array."),
    ("POST", "/v1/files/addTags", {"fileIds": [1], "tags": ["a"]}, "fileIds should be an Array of strings."),
    ("POST", "/v1/files/addTags", {"fileIds": ["{file}"], "tags": "a"}, "Your request contains invalid value for tags."),
    ("POST", "/v1/files/removeTags", {"fileIds": ["{file}"], "tags": [None]}, "Your request contains invalid value for tags."),
    ("POST", "/v1/files/removeAITags", {"fileIds": ["{file}"], "AITags": [1]}, "Your request contains invalid value for AITags."),
    ("POST", "/v1/files/batch/deleteByFileIds", {}, "fileIds parameter is missing."),
    ("POST", "/v1/files/batch/deleteByFileIds", {"fileIds": None}, "fileIds should be an Array."),
    ("POST", "/v1/files/batch/deleteByFileIds", {"fileIds": []}, "fileIds is empty."),
    ("POST", "/v1/files/batch/deleteByFileIds", {"fileIds": [UNKNOWN_ID] * 101}, "fileIds cannot have more than 100 items."),
    ("PATCH", "/v1/files/{file}/details", b"not json", "Your request body is not valid JSON."),
    ("PATCH", "/v1/files/{file}/details", {"tags": "a,b"}, "Your request contains invalid tags parameter."),
    ("PATCH", "/v1/files/{file}/details", {"customMetadata": [1]}, "Invalid custom metadata."),
    ("PATCH", "/v1/files/{file}/details", {"customMetadata": {"k": {"nested": 1}}}, "Invalid custom metadata."),
    ("PATCH", "/v1/files/{file}/details", {"customMetadata": {"undeclared": "x"}}, "Invalid custom metadata."),
    ("PATCH", "/v1/files/{file}/details", {"customCoordinates": "a,b,c,d"}, "Your request contains invalid customCoordinates"),
    ("PATCH", "/v1/files/{file}/details", {"description": 5}, "Your request contains invalid description parameter."),
    ("PATCH", "/v1/files/{file}/details", {"removeAITags": "some"}, "Your request contains invalid removeAITags parameter."),
    ("PATCH", "/v1/files/{file}/details", {"publish": True}, "Your request contains invalid publish"),
    ("PATCH", "/v1/files/{file}/details", {"publish": {"isPublished": "yes"}}, "Your request contains invalid publish"),
    ("PATCH", "/v1/files/{file}/details", {"publish": {"isPublished": True}, "tags": []}, "Your request contains invalid"),
    ("POST", "/v1/folder", {"folderName": 1, "parentFolderPath": "/"}, "Your request contains invalid folderName parameter."),
    ("POST", "/v1/folder", {"folderName": "x" * 256, "parentFolderPath": "/"}, "Your request contains invalid"),
    ("DELETE", "/v1/folder", {"folderPath": []}, "Your request contains invalid folderPath parameter."),
    ("POST", "/v1/customMetadataFields", {"name": "x", "label": "X", "schema": "Text"}, "Invalid schema object."),
    ("POST", "/v1/customMetadataFields", {"name": "x", "label": "X", "schema": {"type": "Script"}}, "Invalid schema object."),
    ("POST", "/v1/customMetadataFields", {"name": ["x"], "label": "X", "schema": {"type": "Text"}}, "Your request contains invalid name parameter."),
    ("PATCH", "/v1/customMetadataFields/{field}", {"label": None}, "Your request contains invalid label parameter."),
    ("PATCH", "/v1/customMetadataFields/{field}", {"schema": [1]}, "Invalid schema object."),
    ("PATCH", "/v1/customMetadataFields/{field}", {"name": "renamed"}, "Name cannot be updated."),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "message"), JSON_BODIES)
def test_json_bodies_of_the_wrong_shape_are_400(
    server: ServerProcess, ids: dict[str, str], method: str, path: str, body: Any, message: str
) -> None:
    content = (
        body
        if isinstance(body, bytes)
        else json.dumps(body).replace("{file}", ids["file"]).encode()
    )
    url = server.base_url + path.format(**ids)
    response = httpx.request(method, url, content=content, auth=AUTH, timeout=30)
    assert_imagekit_error(response, 400, message)


def test_a_json_body_beyond_the_size_limit_is_413(server: ServerProcess) -> None:
    body = json.dumps({"sourceFilePath": "a" * (11 * 1024 * 1024), "destinationPath": "/"})
    response = httpx.post(f"{server.base_url}/v1/files/copy", content=body, auth=AUTH, timeout=60)
    assert_imagekit_error(response, 413)


# --- ids ---------------------------------------------------------------------------------

ID_ROUTES = [
    ("GET", "/v1/files/{id}/details", "fileId"),
    ("PATCH", "/v1/files/{id}/details", "fileId"),
    ("DELETE", "/v1/files/{id}", "fileId"),
    ("GET", "/v1/files/{id}/versions", "fileId"),
    ("GET", "/v1/files/{id}/versions/{version}", "fileId"),
    ("GET", "/v1/files/{file}/versions/{id}", "versionId"),
    ("DELETE", "/v1/files/{file}/versions/{id}", "versionId"),
    ("PUT", "/v1/files/{file}/versions/{id}/restore", "versionId"),
    ("PATCH", "/v1/customMetadataFields/{id}", "ID"),
    ("DELETE", "/v1/customMetadataFields/{id}", "ID"),
]
BAD_IDS = [
    "abc",
    "0123456789abcdef0123456",  # 23 characters
    "0123456789abcdef012345678",  # 25
    "zzzzzzzzzzzzzzzzzzzzzzzz",
    "0123456789abcdef01234567%00",
    "%2e%2e",
    "..\\..\\etc",
    "%C0%AE%C0%AE",  # overlong UTF-8 for ".."
    "".join(chr(ord(c) + 0xFEE0) for c in UNKNOWN_ID),  # full-width look-alikes of an id
]


@pytest.mark.parametrize(("method", "path", "name"), ID_ROUTES)
@pytest.mark.parametrize("bad", BAD_IDS)
def test_malformed_ids_are_400_before_any_lookup(
    server: ServerProcess, ids: dict[str, str], method: str, path: str, name: str, bad: str
) -> None:
    url = server.base_url + path.format(id=bad, file=ids["file"], version=ids["version"])
    response = httpx.request(
        method, url, auth=AUTH, json={"label": "x"} if "Fields" in path else None
    )
    assert_imagekit_error(response, 400, f"Your request contains invalid {name} parameter.")


@pytest.mark.parametrize(("method", "path", "name"), ID_ROUTES)
def test_well_formed_unknown_ids_are_404(
    server: ServerProcess, ids: dict[str, str], method: str, path: str, name: str
) -> None:
    url = server.base_url + path.format(id=UNKNOWN_ID, file=ids["file"], version=ids["version"])
    response = httpx.request(
        method, url, auth=AUTH, json={"label": "x"} if "Fields" in path else None
    )
    assert_imagekit_error(response, 404)


# --- query parameters --------------------------------------------------------------------

SEARCH_LIMITS = [
    ('size > "99999999999999999999tb"', "size field must have a size value below 8 EiB"),
    ("size > 9223372036854775808", "size field must have a size value below 8 EiB"),
    ("width > 1e400", "width field must have a finite numeric value"),
    ("height > nan", "height field must have a finite numeric value"),
    ('"customMetadata.hostile" > ' + "9" * 400, "customMetadata.hostile field must have a finite numeric value"),
    ('createdAt > "99999999999d"', "createdAt field must have a date between the years 1 and 9999"),
    ('updatedAt > "99999999999999999999y"', "updatedAt field must have a date between the years 1 and 9999"),
    (" OR ".join(f'name = "n{i}"' for i in range(1000)), "the query is longer than 4096 characters"),
    (" OR ".join(["size=1"] * 101), "the query has more than 100 conditions"),
    (" AND ".join(["size=1"] * 350), "the query has more than 100 conditions"),
    ("(size=1 OR " * 300 + "size=1" + ")" * 300, "the query has more than 100 conditions"),
    ('name = "' + "a" * 5000 + '"', "the query is longer than 4096 characters"),
    ("tags IN [" + ", ".join(f'"t{i}"' for i in range(101)) + "]", "the list of values for tags has more than 100 values"),
]  # fmt: skip

MANAGEMENT_ROUTES = [
    ("GET", "/v1/files"),
    ("GET", "/v1/files/{file}/details"),
    ("GET", "/v1/files/{file}/versions"),
    ("GET", "/v1/files/{file}/versions/{version}"),
    ("PUT", "/v1/files/{file}/versions/{version}/restore"),
    ("POST", "/v1/files/copy"),
    ("POST", "/v1/files/addTags"),
    ("GET", "/v1/customMetadataFields"),
    ("POST", "/api/v1/files/upload"),
]


@pytest.mark.parametrize(("method", "path"), MANAGEMENT_ROUTES)
@pytest.mark.parametrize("query", ["serchQuery=x", "limit=1&debug=true", "%00=1", "a%5B%5D=1"])
def test_unknown_query_parameters_are_400_and_change_nothing(
    server: ServerProcess, ids: dict[str, str], method: str, path: str, query: str
) -> None:
    versions_before = httpx.get(
        f"{server.base_url}/v1/files/{ids['file']}/versions", auth=AUTH
    ).json()
    url = server.base_url + path.format(**ids) + "?" + query
    response = httpx.request(method, url, auth=AUTH)
    assert_imagekit_error(response, 400, "Your request contains unknown query parameters:")
    assert (
        httpx.get(f"{server.base_url}/v1/files/{ids['file']}/versions", auth=AUTH).json()
        == versions_before
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("type=", "Your request contains invalid value for type parameter."),
        ("type=file%00", "Your request contains invalid type parameter."),
        ("sort=ASC_NAME;DROP", "Your request contains invalid value for sort parameters."),
        ("limit=abc", "Minimum value of limit parameter is 1."),
        ("limit=1001", "Maximum value of limit parameter is 1000."),
        ("skip=-1", "The value of skip parameter should be greater than or equal to 0."),
        ("searchQuery=name%20%3D", "Invalid search query"),
        ("searchQuery=" + "(" * 5000, "Invalid search query"),
        (
            "searchQuery=name%20%3D%20%22%00%22%20OR%201%3D1",
            "Your request contains invalid searchQuery parameter.",
        ),
        ("path=/a%00", "Your request contains invalid path parameter."),
        # Beyond the documented limits of searchQuery (docs/decisions.md, "Limits").
        *[("searchQuery=" + quote(q), f"Invalid search query - {m}") for q, m in SEARCH_LIMITS],
    ],
)
def test_bad_list_parameters_are_400(server: ServerProcess, query: str, message: str) -> None:
    response = httpx.get(f"{server.base_url}/v1/files?{query}", auth=AUTH, timeout=60)
    assert_imagekit_error(response, 400, message)


def _nested(depth: int, condition: str = "size > 1") -> str:
    query = condition
    for _ in range(depth - 1):
        query = f"({condition} OR {query})"
    return query


@pytest.mark.parametrize(
    "query",
    [
        "(" * 2000 + 'name = "a"' + ")" * 2000,  # parentheses alone add no condition
        _nested(100),
        _nested(100, 'name : "x"'),
        " AND ".join(["size=1"] * 100),
        '"customMetadata.hostile" IN [' + ", ".join(f'"v{i}"' for i in range(100)) + "]",
        "size <= 9223372036854775807",
        'size < "8388607tb"',
        "width > 99999999999999999999999999999",
        'createdAt > "2000y"',
        'createdAt > "0001-01-01T00:00:00+01:00"',
        'updatedAt < "9999-12-31T23:59:59.999Z"',
    ],
)
def test_hostile_queries_within_the_limits_are_answered(server: ServerProcess, query: str) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/files", params={"searchQuery": query}, auth=AUTH, timeout=60
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_a_skip_beyond_any_count_is_an_empty_page(server: ServerProcess) -> None:
    response = httpx.get(f"{server.base_url}/v1/files?skip={10**30}", auth=AUTH)
    assert response.status_code == 200 and response.json() == []


# --- delivery paths, sent byte for byte (httpx would resolve the dot segments) -----------

DELIVERY_PATHS = [
    "/media/../../etc/passwd",
    "/media/%2e%2e/%2e%2e/etc/passwd",
    "/media/..%2f..%2fetc%2fpasswd",
    "/media/..%5c..%5cetc%5cpasswd",
    "/media/..\\..\\etc\\passwd",
    "/media//etc/passwd",
    "/media/%00",
    "/media/h.txt%00.jpg",
    "/media/%ff%fe",
    "/media/%C0%AE%C0%AE/etc/passwd",
    "/media/v/../../../etc/passwd",
    "/media/hostile/h.txt?ik-obj-version=../../etc/passwd",
    "/media/" + "a/" * 2000 + "x",
]


@pytest.mark.parametrize("path", DELIVERY_PATHS)
def test_delivery_never_serves_anything_outside_the_library(
    server: ServerProcess, path: str
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status in (400, 404), (response.status, body[:200])
    assert b"root:" not in body
    error = json.loads(body)
    assert error["help"] == HELP and error["message"]


# Hostile `tr` values on a real image, sent raw in the path segment and in the query. Each
# must be answered (a 400 with a clean ik-error header, or a 200 when it is a valid request),
# never a 5xx, never a header the client wrote, never anything outside the data folder.
HOSTILE_TRANSFORMATIONS = [
    "w-100%0d%0aSet-Cookie:%20evil=1",
    "%0d%0aX-Evil:%201",
    "foo-%0d%0a",
    "w-%ff%fe",
    "w-%C3%A9",
    "w-100%00",
    "w-" + "9" * 5000,
    ":" * 5000,
    ",".join(["w-1"] * 600),
    ":".join(["rt-90"] * 17),
    "w-1e308",
    "w-nan",
    "w-inf",
    "w--5",
    "w-0.0000001",
    "rt-360000000000000000000",
    "bg-..%2f..%2fetc%2fpasswd",
    "n-..%2f..%2fetc%2fpasswd",
    "n-__proto__",
    "f-..%2f..%2fx",
    "l-image,i-%2fetc%2fpasswd,l-end",
    "w-65535,h-65535",
    "w-16383,dpr-5",
    "b-100000_FF0000",
    "bl-100000",
    "r-99999999",
    "t-100000",
    "w-20,h-20,cm-extract,x-99999999,y-99999999",
    "w-20,h-20,cm-pad_extract,xc--99999999",
    "orig-true,foo-1",
]


@pytest.fixture(scope="module")
def hostile_image(server: ServerProcess) -> str:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(image, "JPEG")
    client.files.upload(
        file=image.getvalue(), file_name="img.jpg", folder="/hostile", use_unique_file_name=False
    )
    return "/media/hostile/img.jpg"


@pytest.mark.parametrize("position", ["path", "query"])
@pytest.mark.parametrize("tr", HOSTILE_TRANSFORMATIONS)
def test_hostile_transformations_are_answered_cleanly(
    server: ServerProcess, hostile_image: str, tr: str, position: str
) -> None:
    if position == "path":
        target = hostile_image.replace("/media/", f"/media/tr:{tr}/", 1)
    else:
        target = f"{hostile_image}?tr={tr}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("GET", target)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status in (200, 400), (response.status, body[:200])
    names = {name.lower() for name, _ in response.getheaders()}
    assert "set-cookie" not in names and "x-evil" not in names
    assert b"root:" not in body
    if response.status == 400:
        error = json.loads(body)
        assert error == {"message": "Bad Image Transformation Request", "help": HELP}
        ik_error = response.getheader("ik-error") or ""
        assert ik_error.startswith(("EINVALID - ", "ELIMIT - "))
        assert all(" " <= c <= "~" for c in ik_error), ik_error
    else:
        Image.open(io.BytesIO(body)).verify()


# --- multipart ----------------------------------------------------------------------------


def raw_upload(server: ServerProcess, parts: list[tuple[str, tuple]]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/v1/files/upload", auth=AUTH, files=parts, timeout=60)


MALFORMED_FORMS: list[tuple[str, bytes]] = [
    ("multipart/form-data; boundary=XYZ", b'--XYZ\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--WRONG'),
    ("multipart/form-data", b"whatever"),
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=XYZ", b"--XYZ\r\nno colon here\r\n\r\nabc\r\n--XYZ--\r\n"),
    ("multipart/form-data; boundary=XYZ", b'--XYZ\r\nContent-Disposition: form-data; name="fileName"\r\n\r\nx.txt'),
    ("multipart/form-data; boundary=XYZ", b"--XYZ\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--XYZ--\r\n"),
    ("multipart/form-data; boundary=XYZ", b"--XYZ--\r\n"),
    ("multipart/form-data; boundary=XYZ", b""),
    ("application/json", b'{"file": "abc", "fileName": "x.txt"}'),
    ("application/x-www-form-urlencoded", b"file=abc&fileName=x.txt"),
    ("text/plain", b"abc"),
]  # fmt: skip


@pytest.mark.parametrize(("content_type", "body"), MALFORMED_FORMS)
def test_malformed_multipart_is_400(server: ServerProcess, content_type: str, body: bytes) -> None:
    response = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=AUTH,
        headers={"Content-Type": content_type},
        content=body,
        timeout=60,
    )
    assert_imagekit_error(response, 400)


@pytest.mark.parametrize("field", ["tags", "description", "customCoordinates", "customMetadata"])
def test_a_nul_in_an_upload_field_is_400(server: ServerProcess, field: str) -> None:
    response = raw_upload(
        server,
        [
            ("fileName", (None, "nul.txt")),
            (field, (None, "a\x00b")),
            ("file", ("nul.txt", b"bytes", "text/plain")),
        ],
    )
    assert_imagekit_error(response, 400, f"Your request contains invalid {field} parameter.")


def test_invalid_utf8_in_a_field_is_400(server: ServerProcess) -> None:
    boundary = "b0undary"
    file_part = 'Content-Disposition: form-data; name="file"; filename="u"'
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="fileName"\r\n\r\n'.encode()
        + b"\xff\xfe.jpg\r\n"
        + f"--{boundary}\r\n{file_part}\r\n\r\n".encode()
        + b"abc\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    response = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=AUTH,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body,
    )
    assert_imagekit_error(response, 400)
    assert "fileName" in response.json()["message"]


# --- names: made harmless, or refused ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "folder_name", "expected_path"),
    [
        ("../../../../etc/passwd", "/", "/.._.._.._.._etc_passwd"),
        ("..\\..\\win.ini", "/", "/.._.._win.ini"),
        ("evil.jpg", "../../../../tmp/escape", "/__/__/__/__/tmp/escape/evil.jpg"),
        ("evil.jpg", "..\\..\\up", "/__/__/up/evil.jpg"),
        ("evil.jpg", "/etc/", "/etc/evil.jpg"),
        ("evil.jpg", "C:\\Windows\\", "/C_/Windows/evil.jpg"),
        ("nul\x00byte.jpg", "/a\x00b", "/a_b/nul_byte.jpg"),
        ("sp ace&semi;.jpg", "/with space", "/with_space/sp_ace_semi_.jpg"),
        ("résumé.jpg", "/cafés", "/cafés/résumé.jpg"),
        ("re\u0301sume\u0301.jpg", "/", "/résumé.jpg"),  # NFD becomes NFC
        ("\u2024\u2024\u2215x.jpg", "/\u2025", "/_/___x.jpg"),  # dot and slash look-alikes
        ("\uff0e\uff0e\uff0fx.jpg", "/", "/___x.jpg"),  # full-width dots and slash
        ("%2e%2e%2fx.jpg", "%2e%2e", "/_2e_2e/_2e_2e_2fx.jpg"),
        ("rtl\u202egpj.exe", "/", "/rtl_gpj.exe"),  # right-to-left override
        ("tab\tnew\nline.txt", "/", "/tab_new_line.txt"),
    ],
)
def test_hostile_names_are_normalised_and_never_followed(
    server: ServerProcess, file_name: str, folder_name: str, expected_path: str
) -> None:
    content = f"hostile {file_name!r} {folder_name!r}".encode()
    response = raw_upload(
        server,
        [
            ("fileName", (None, file_name)),
            ("folder", (None, folder_name)),
            ("useUniqueFileName", (None, "false")),
            ("file", ("upload", content, "application/octet-stream")),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filePath"] == expected_path
    fetched = httpx.get(body["url"])
    assert fetched.status_code == 200 and fetched.content == content
    check_invariants(server)


@pytest.mark.parametrize(
    ("file_name", "folder_name"),
    [
        ("..", "/"),
        (".", "/a"),
        ("...", "/"),
        ("x" * 256, "/"),
        ("é" * 256, "/"),  # counted in characters, not bytes
        ("ok.jpg", "/a" * 51),
        ("ok.jpg", "/" + "f" * 256),
    ],
)
def test_unusable_names_are_400(server: ServerProcess, file_name: str, folder_name: str) -> None:
    response = raw_upload(
        server,
        [
            ("fileName", (None, file_name)),
            ("folder", (None, folder_name)),
            ("file", ("upload", b"bytes", "application/octet-stream")),
        ],
    )
    assert_imagekit_error(response, 400, "Your request contains invalid")
