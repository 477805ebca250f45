"""The multipart forms real clients send, and hostile names that must never escape the data."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import httpx
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, blob_files, staging_count


def raw_upload(server: ServerProcess, parts: list[tuple[str, tuple]]) -> httpx.Response:
    """POST a multipart body with the parts in exactly the given order."""
    return httpx.post(
        f"{server.base_url}/api/v1/files/upload", auth=(TEST_KEY, ""), files=parts, timeout=60
    )


def test_file_part_first_as_the_node_sdk_sends_it(
    server: ServerProcess, folder: str, make_image: Callable[..., bytes]
) -> None:
    content = make_image()
    response = raw_upload(
        server,
        [
            ("file", ("photo.jpg", content, "application/octet-stream")),
            ("fileName", (None, "first.jpg")),
            ("folder", (None, folder)),
            ("useUniqueFileName", (None, "false")),
            ("tags", (None, "x,y")),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "first.jpg" and body["filePath"] == f"{folder}/first.jpg"
    assert httpx.get(body["url"]).content == content


@pytest.mark.parametrize("prefix", ["", "data:image/jpeg;base64,"])
def test_file_as_a_base64_text_field(
    server: ServerProcess, folder: str, prefix: str, make_image: Callable[..., bytes]
) -> None:
    content = make_image(31, 29)
    encoded = base64.b64encode(content).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    response = raw_upload(
        server,
        [
            ("fileName", (None, "b64.jpg")),
            ("folder", (None, folder)),
            ("file", (None, prefix + wrapped)),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"], body["size"]) == (31, 29, len(content))
    assert httpx.get(body["url"]).content == content


def test_invalid_base64_and_url_text_fields_are_400(server: ServerProcess, folder: str) -> None:
    # Private addresses are refused by default: an upload must not probe our own network.
    for text in ["not base64 at all!", "QUJD=", "ftp://example.com/x", "http://127.0.0.1:9/x"]:
        response = raw_upload(
            server,
            [("fileName", (None, "x.jpg")), ("folder", (None, folder)), ("file", (None, text))],
        )
        assert response.status_code == 400, text
        assert response.json()["message"].startswith(
            "Your request contains invalid file parameter."
        )


def test_two_file_parts_are_refused(server: ServerProcess, folder: str) -> None:
    response = raw_upload(
        server,
        [
            ("fileName", (None, "two.bin")),
            ("file", ("a", b"one", "application/octet-stream")),
            ("file", ("b", b"two", "application/octet-stream")),
        ],
    )
    assert response.status_code == 400


def test_empty_file_is_missing_file(server: ServerProcess) -> None:
    response = raw_upload(server, [("fileName", (None, "e.bin")), ("file", ("e", b"", "x/y"))])
    assert response.status_code == 400
    assert response.json()["message"] == "Your request is missing file parameter."


def test_mime_and_dimensions_come_from_the_bytes_not_the_client(
    client: ImageKit, folder: str, make_image: Callable[..., bytes]
) -> None:
    png = make_image(12, 34, "PNG", (1, 2, 3, 4))
    result = client.files.upload(
        file=("photo.jpg", png, "image/jpeg"), file_name="liar.jpg", folder=folder
    )
    details = client.files.get(result.file_id)
    assert details.mime == "image/png" and details.has_alpha is True
    assert (details.width, details.height) == (12, 34)


def test_a_client_that_disconnects_mid_upload_leaves_nothing(server: ServerProcess) -> None:
    import socket
    import time

    boundary = "cut"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="fileName"\r\n\r\ncut.bin\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="u"\r\n\r\n'
    ).encode()
    auth = base64.b64encode(f"{TEST_KEY}:".encode()).decode()
    request = (
        "POST /api/v1/files/upload HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Basic {auth}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + 50_000_000}\r\n\r\n"
    ).encode()
    before = blob_files(server)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request + head + os.urandom(3_000_000))
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while staging_count(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert staging_count(server) == 0
    assert blob_files(server) == before
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


HELP = "See docs/errors.md in the mediavault documentation."
TOO_MANY = "Your request contains too many parameters. An upload can have at most 100 form fields."
TOO_MUCH = (
    "Your request contains too much form data. The form fields of an upload can be at most "
    "2097152 bytes in total."
)


def test_a_hundred_form_fields_are_accepted(server: ServerProcess, folder: str) -> None:
    extra = [(f"x-extra-{i}", (None, "v")) for i in range(97)]
    response = raw_upload(
        server,
        [
            ("fileName", (None, "many.bin")),
            ("folder", (None, folder)),
            *extra,
            ("useUniqueFileName", (None, "false")),
            ("file", ("f", b"many fields", "application/octet-stream")),
        ],
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("file_first", [True, False])
def test_the_hundred_and_first_form_field_is_a_400(
    server: ServerProcess, folder: str, file_first: bool
) -> None:
    file_part = ("file", ("f", b"x" * 100_000, "application/octet-stream"))
    fields = [("fileName", (None, "many.bin")), ("folder", (None, folder))]
    fields += [("tags", (None, "t")) for _ in range(99)]  # the same name counts every time
    before = blob_files(server)
    response = raw_upload(server, [file_part, *fields] if file_first else [*fields, file_part])
    assert response.status_code == 400
    assert response.json() == {"message": TOO_MANY, "help": HELP}
    assert blob_files(server) == before


def test_form_fields_are_bounded_in_total_not_only_each(server: ServerProcess, folder: str) -> None:
    # Each field is within MEDIAVAULT_MAX_FIELD_BYTES (1 MiB); together they are 3 MiB.
    big = "d" * 1_000_000
    response = raw_upload(
        server,
        [
            ("fileName", (None, "big.bin")),
            ("folder", (None, folder)),
            *[("description", (None, big)) for _ in range(3)],
            ("file", ("f", b"content", "application/octet-stream")),
        ],
    )
    assert response.status_code == 400
    assert response.json() == {"message": TOO_MUCH, "help": HELP}


def test_part_headers_count_toward_the_total(server: ServerProcess) -> None:
    # python-multipart allows 8 headers of 4 KiB per part; 80 parts of those are 2.6 MB of
    # headers around empty values, within the field count.
    boundary = "b0undary"
    padding = "".join(f"X-Pad-{n}: {'p' * 4000}\r\n" for n in range(7))
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n{padding}\r\n\r\n'
        for i in range(80)
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    response = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        auth=(TEST_KEY, ""),
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json() == {"message": TOO_MUCH, "help": HELP}
