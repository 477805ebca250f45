"""Uploads straight from browsers (ImageKit's V1 signature and V2 JWT) and CORS, end to end.

The backend side is the official SDK: `client.helper.get_authentication_parameters()` mints the
V1 proof, as an application's backend would. The browser side is a plain multipart POST with
no Authorization header, as ImageKit's JS SDK sends it (publicKey twice included).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, free_port

# The test key is shorter than the 32 bytes PyJWT recommends for HS256; real keys are not.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PUBLIC_KEY = "public_test_browser_uploads"
ALLOWED = "https://app.example"
USED_BEFORE = (
    "The token with value '{}' has been used before. We suggest using V4 UUIDs, or another "
    "random string with enough entropy to avoid collisions."
)
INVALID_EXPIRE = (
    "Your request contains invalid expire parameter. Expire parameter should be a Unix time "
    "in less than 1 hour into the future."
)


@pytest.fixture(scope="module")
def bserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("browser")
    env = {"MEDIAVAULT_PUBLIC_KEY": PUBLIC_KEY, "MEDIAVAULT_CORS_ORIGINS": ALLOWED}
    process = ServerProcess(data=root / "data", port=free_port(), env=env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sdk(bserver: ServerProcess) -> ImageKit:
    return ImageKit(private_key=TEST_KEY, base_url=bserver.base_url, max_retries=0)


def browser_upload(
    server: ServerProcess,
    fields: dict[str, Any],
    content: bytes = b"bytes from a browser",
    version: int = 1,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    # The JS SDK: the file part first, named by fileName; publicKey appended a second time.
    parts: list[tuple[str, Any]] = [("file", (fields.get("fileName", "f.bin"), content))]
    parts += [(name, (None, str(value))) for name, value in fields.items()]
    if "publicKey" in fields:
        parts.append(("publicKey", (None, fields["publicKey"])))
    return httpx.post(
        f"{server.base_url}/api/v{version}/files/upload",
        files=parts,
        headers=headers or {},
        timeout=30,
    )


def v1_fields(sdk: ImageKit, folder: str, **overrides: Any) -> dict[str, Any]:
    proof = sdk.helper.get_authentication_parameters()
    return {
        "fileName": "pic.bin",
        "folder": folder,
        "useUniqueFileName": "false",
        "publicKey": PUBLIC_KEY,
        "token": proof["token"],
        "expire": proof["expire"],
        "signature": proof["signature"],
        **overrides,
    }


def test_a_signed_browser_upload_works_once(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    fields = v1_fields(sdk, folder)
    first = browser_upload(bserver, fields, b"first bytes")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["filePath"] == f"{folder}/pic.bin" and body["size"] == len(b"first bytes")
    assert first.headers["x-request-id"] == first.headers["x-ik-requestid"]
    assert httpx.get(body["url"]).content == b"first bytes"
    # The proof fields are not stored as anything: no custom metadata, no tags.
    details = sdk.files.get(body["fileId"])
    assert not details.tags and not details.custom_metadata

    replay = browser_upload(bserver, fields, b"second bytes")
    assert replay.status_code == 400
    assert replay.json()["message"] == USED_BEFORE.format(fields["token"])
    assert len(sdk.files.versions.list(body["fileId"])) == 1  # nothing was added


def test_a_retry_under_the_same_idempotency_key_gets_the_first_answer(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    # The page lost the answer and sends the same request again: same key, same proof.
    fields = v1_fields(sdk, folder)
    key = {"Idempotency-Key": f"browser-{uuid.uuid4()}"}
    first = browser_upload(bserver, fields, b"once", headers=key)
    again = browser_upload(bserver, fields, b"once", headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["versionInfo"] == first.json()["versionInfo"]
    assert len(sdk.files.versions.list(first.json()["fileId"])) == 1
    # Without the key, the spent proof is refused.
    assert browser_upload(bserver, fields, b"once").status_code == 400


def test_a_token_is_spent_even_when_its_upload_fails(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    fields = v1_fields(sdk, folder)
    fields.pop("fileName")
    failed = browser_upload(bserver, fields)
    assert failed.status_code == 400
    assert failed.json()["message"] == "Your request is missing fileName parameter."
    retried = browser_upload(bserver, {**fields, "fileName": "pic.bin"})
    assert retried.json()["message"] == USED_BEFORE.format(fields["token"])


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"expire": int(time.time()) - 10}, 400, INVALID_EXPIRE),
        ({"expire": int(time.time()) + 7200}, 400, INVALID_EXPIRE),
        ({"expire": "soon"}, 400, INVALID_EXPIRE),
        ({"signature": "0" * 40}, 400, "Your request contains invalid signature parameter."),
        ({"publicKey": "public_someone_else"}, 403, "Your account cannot be authenticated."),
        ({"token": None}, 400, "Your request is missing token parameter."),
        ({"signature": None}, 400, "Your request is missing signature parameter."),
    ],
)
def test_bad_proofs_are_refused_with_imagekits_messages(
    bserver: ServerProcess,
    sdk: ImageKit,
    folder: str,
    change: dict[str, Any],
    status: int,
    message: str,
) -> None:
    fields = {k: v for k, v in {**v1_fields(sdk, folder), **change}.items() if v is not None}
    response = browser_upload(bserver, fields)
    assert (response.status_code, response.json()["message"]) == (status, message)
    assert sdk.assets.list(path=folder) == []


def test_a_signature_made_with_another_key_is_refused(bserver: ServerProcess, folder: str) -> None:
    stranger = ImageKit(private_key="private_not_ours", base_url=bserver.base_url)
    response = browser_upload(bserver, v1_fields(stranger, folder))
    assert response.status_code == 400
    assert response.json()["message"] == "Your request contains invalid signature parameter."


def test_basic_auth_and_a_signature_together_are_refused(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    fields = v1_fields(sdk, folder)
    parts = [("file", ("a.bin", b"x"))] + [(k, (None, str(v))) for k, v in fields.items()]
    response = httpx.post(
        f"{bserver.base_url}/api/v1/files/upload", files=parts, auth=(TEST_KEY, "")
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "Your request contains both signature and basic auth parameter."
    )


def test_no_proof_and_no_key_is_still_unauthenticated(bserver: ServerProcess, folder: str) -> None:
    response = browser_upload(bserver, {"fileName": "a.bin", "folder": folder})
    assert response.status_code == 401
    assert response.json()["message"] == "Your request does not contain private API key."


def test_a_field_sent_twice_with_different_values_is_refused(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    parts = [("file", ("a.bin", b"x")), ("fileName", (None, "a.bin")), ("folder", (None, folder))]
    parts.append(("folder", (None, folder + "-other")))
    response = httpx.post(
        f"{bserver.base_url}/api/v1/files/upload", files=parts, auth=(TEST_KEY, "")
    )
    assert response.status_code == 400
    assert "sent twice" in response.json()["message"]


# -- V2: a JWT ---------------------------------------------------------------------------------


def v2_token(
    claims: dict[str, Any], key: str = TEST_KEY, kid: str = PUBLIC_KEY, **jwt_args: Any
) -> str:
    now = int(time.time())
    payload = {"iat": now, "exp": now + 600, **claims}
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid}, **jwt_args)


def test_a_v2_jwt_upload_works_once(bserver: ServerProcess, sdk: ImageKit, folder: str) -> None:
    fields = {"fileName": "dress.bin", "folder": folder, "useUniqueFileName": "false",
              "tags": "summer,dress"}  # fmt: skip
    token = v2_token(fields)
    first = browser_upload(bserver, {**fields, "token": token}, b"dress", version=2)
    assert first.status_code == 200, first.text
    assert sdk.files.get(first.json()["fileId"]).tags == ["summer", "dress"]
    again = browser_upload(bserver, {**fields, "token": token}, b"dress", version=2)
    assert (again.status_code, again.json()["message"]) == (400, "Your request has invalid token.")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: v2_token({**f, "exp": int(time.time()) - 5}), "Your request contains expired token."),
        (lambda f: v2_token({**f, "exp": int(time.time()) + 7200}), "Your request has invalid token."),
        (lambda f: v2_token(f, key="private_not_ours"), "Your request has invalid token."),
        (lambda f: v2_token(f, kid="public_other"), "Your request has invalid token."),
        (lambda f: jwt.encode({**f, "exp": int(time.time()) + 60}, None, algorithm="none"),
         "Your request has invalid token."),
        (lambda f: v2_token({**f, "folder": "/elsewhere"}),
         "Your request contains invalid payload. It does not match with the payload used to "
         "generate token."),
        (lambda f: v2_token({k: v for k, v in f.items() if k != "folder"}),
         "Your request contains invalid payload. It does not match with the payload used to "
         "generate token."),
        (lambda f: "not.a.jwt", "Your request has invalid token."),
    ],
)  # fmt: skip
def test_bad_v2_tokens_are_refused(
    bserver: ServerProcess, sdk: ImageKit, folder: str, make: Any, message: str
) -> None:
    fields = {"fileName": "x.bin", "folder": folder}
    response = browser_upload(bserver, {**fields, "token": make(fields)}, version=2)
    assert (response.status_code, response.json()["message"]) == (400, message)
    assert sdk.assets.list(path=folder) == []


def test_v2_without_a_token_or_key_and_with_both(bserver: ServerProcess, folder: str) -> None:
    missing = browser_upload(bserver, {"fileName": "x.bin"}, version=2)
    assert missing.status_code == 401
    assert missing.json()["message"] == "Your request does not contain private API key."
    fields = {"fileName": "x.bin", "folder": folder}
    parts = [("file", ("x.bin", b"x"))] + [(k, (None, v)) for k, v in fields.items()]
    parts.append(("token", (None, v2_token(fields))))
    both = httpx.post(f"{bserver.base_url}/api/v2/files/upload", files=parts, auth=(TEST_KEY, ""))
    assert both.status_code == 400
    assert both.json()["message"].startswith(
        "Your request contains both token and basic auth parameter."
    )


def test_v2_with_the_private_key_is_a_server_side_upload(
    bserver: ServerProcess, folder: str
) -> None:
    parts = [("file", ("k.bin", b"key")), ("fileName", (None, "k.bin")), ("folder", (None, folder))]
    response = httpx.post(
        f"{bserver.base_url}/api/v2/files/upload", files=parts, auth=(TEST_KEY, "")
    )
    assert response.status_code == 200, response.text
    assert response.json()["filePath"].startswith(f"{folder}/k_")  # useUniqueFileName's default


# -- CORS --------------------------------------------------------------------------------------


def preflight(server: ServerProcess, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        server.base_url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize("path", ["/api/v1/files/upload", "/api/v2/files/upload"])
def test_preflight_from_an_allowed_origin(bserver: ServerProcess, path: str) -> None:
    response = preflight(bserver, path, ALLOWED)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"
    assert response.headers["access-control-max-age"] == "86400"


def test_preflight_from_another_origin_is_refused(bserver: ServerProcess) -> None:
    response = preflight(bserver, "/api/v1/files/upload", "https://evil.example")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert set(response.json()) == {"message", "help"}


def test_answers_to_an_allowed_origin_carry_cors_headers_errors_included(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    ok = browser_upload(bserver, v1_fields(sdk, folder), headers={"Origin": ALLOWED})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in ok.headers["access-control-expose-headers"]
    refused = browser_upload(
        bserver, v1_fields(sdk, folder, signature="0" * 40), headers={"Origin": ALLOWED}
    )
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    delivered = httpx.get(ok.json()["url"], headers={"Origin": ALLOWED})
    assert delivered.status_code == 200
    assert delivered.headers["access-control-allow-origin"] == ALLOWED
    other = httpx.get(ok.json()["url"], headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_the_management_api_stays_closed_to_browsers(
    bserver: ServerProcess, sdk: ImageKit, folder: str
) -> None:
    ok = browser_upload(bserver, v1_fields(sdk, folder))
    path = f"/v1/files/{ok.json()['fileId']}/details"
    answer = httpx.get(bserver.base_url + path, auth=(TEST_KEY, ""), headers={"Origin": ALLOWED})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    asked = preflight(bserver, path, ALLOWED)
    assert "access-control-allow-origin" not in asked.headers


def test_a_generated_public_key_is_stored_and_printed_once(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        stored = (tmp_path / "data" / "public_key").read_text().strip()
        assert stored.startswith("public_") and stored in server.log()
        sdk = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        fields = {**v1_fields(sdk, f"/t{uuid.uuid4().hex[:8]}"), "publicKey": stored}
        assert browser_upload(server, fields).status_code == 200
    finally:
        server.stop()
