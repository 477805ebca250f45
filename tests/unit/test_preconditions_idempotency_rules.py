"""The pure rules of conditional writes and idempotency keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from mediavault.api.app import create_app
from mediavault.config import Settings
from mediavault.domain.preconditions import (
    ANY,
    ensure_absent,
    ensure_expected_version,
    entity_tag,
    parse_if_match,
    parse_if_none_match,
)
from mediavault.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidRequest,
    PreconditionFailed,
)
from mediavault.services.idempotency import (
    Decision,
    body_meaning,
    checked_key,
    decide,
    request_digest,
    upload_meaning,
)
from mediavault.storage.idempotency_queries import IdempotencyRecord
from mediavault.wiring import prepare_data_folder

V1 = "0123456789abcdef01234567"
V2 = "76543210fedcba9876543210"

# --- If-Match / If-None-Match -------------------------------------------------------------


def test_the_etag_is_the_quoted_version_id_and_if_match_reads_it_back() -> None:
    assert entity_tag(V1) == f'"{V1}"'
    assert parse_if_match(entity_tag(V1)) == V1
    assert parse_if_match(f'  "{V1.upper()}" ') == V1.upper()  # the id as the client sent it
    assert parse_if_match(None) is None
    assert parse_if_match("*") == ANY


@pytest.mark.parametrize(
    "value",
    ["", V1, f'W/"{V1}"', f'"{V1}", "{V2}"', f'"{V1}",', '"xyz"', f'"{V1}0"', "**", '""'],
)
def test_if_match_takes_one_strong_quoted_id_or_star(value: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid If-Match header"):
        parse_if_match(value)


def test_if_none_match_takes_only_star() -> None:
    assert parse_if_none_match(None) is False
    assert parse_if_none_match(" * ") is True
    for value in (f'"{V1}"', "", "W/*"):
        with pytest.raises(InvalidRequest, match="invalid If-None-Match header"):
            parse_if_none_match(value)


def test_a_stale_version_fails_naming_the_version_sent() -> None:
    ensure_expected_version(None, V2)
    ensure_expected_version(V2, V2)
    ensure_expected_version(V2.upper(), V2)
    ensure_expected_version(ANY, V2)
    with pytest.raises(PreconditionFailed) as failed:
        ensure_expected_version(V1.upper(), V2)
    assert failed.value.message == f"The file has changed since version {V1.upper()}."


def test_a_missing_file_fails_any_if_match() -> None:
    ensure_expected_version(None, None)
    with pytest.raises(PreconditionFailed, match="no file exists at this path"):
        ensure_expected_version(V1, None)
    with pytest.raises(PreconditionFailed, match=r"^No file exists at this path\.$"):
        ensure_expected_version(ANY, None)


def test_create_only_fails_when_a_file_exists() -> None:
    ensure_absent(True, None)
    ensure_absent(False, V1)
    with pytest.raises(PreconditionFailed, match=f"its current version is {V1}"):
        ensure_absent(True, V1)


# --- Idempotency keys ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "x" * 255, "with spaces ~!", "0" * 64])
def test_keys_are_1_to_255_printable_ascii_characters(key: str) -> None:
    assert checked_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "clé", "new\nline", "\x7f"])
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid Idempotency-Key header"):
        checked_key(key)


def test_a_request_is_its_method_path_meaning_and_conditions() -> None:
    base = request_digest("POST", "/v1/files/copy", body_meaning(b"{}"))
    assert base == request_digest("post", "/v1/files/copy", body_meaning(b"{}"))
    assert len(base) == 64
    assert base != request_digest("POST", "/v1/files/move", body_meaning(b"{}"))
    assert base != request_digest("PUT", "/v1/files/copy", body_meaning(b"{}"))
    assert base != request_digest("POST", "/v1/files/copy", body_meaning(b"{ }"))
    conditional = request_digest("POST", "/v1/files/copy", body_meaning(b"{}"), ["if-match: *"])
    assert conditional != base


def test_an_upload_means_its_fields_and_file_whatever_their_order() -> None:
    fields = {"fileName": "a.txt", "tags": "x,y"}
    same = upload_meaning(dict(reversed(fields.items())), "d" * 64, False)
    assert upload_meaning(fields, "d" * 64, False) == same
    assert upload_meaning(fields, "e" * 64, False) != same
    assert upload_meaning(fields, "d" * 64, True) != same
    assert upload_meaning({**fields, "tags": "x"}, "d" * 64, False) != same


NOW = 1_000_000
DIGEST = "a" * 64


def record(
    status: int | None,
    owner: int = 7,
    created_at: int = NOW - 10,
    expires_at: int = NOW + 1000,
    other_request: bool = False,
) -> IdempotencyRecord:
    digest = "b" * 64 if other_request else DIGEST
    return IdempotencyRecord("k", digest, owner, status, {}, b"", created_at, expires_at)


def alive(owner: int) -> bool:
    return owner == 7


STALE_BEFORE = NOW - 3_600_000


@pytest.mark.parametrize(
    ("stored", "outcome"),
    [
        (None, Decision.CLAIM),
        (record(200), Decision.REPLAY),
        (record(404), Decision.REPLAY),
        (record(200, expires_at=NOW), Decision.TAKE_OVER),  # expired: the key is free again
        (record(200, other_request=True, expires_at=NOW - 1), Decision.TAKE_OVER),
        (record(None, owner=8), Decision.TAKE_OVER),  # its process died
        (record(None, created_at=STALE_BEFORE), Decision.TAKE_OVER),  # outlived the grace
        (record(None, owner=8, other_request=True), Decision.TAKE_OVER),
        (record(None), IdempotencyKeyInUse),
        (record(None, other_request=True), IdempotencyKeyReused),
        (record(200, other_request=True), IdempotencyKeyReused),
        (record(None, expires_at=NOW - 1), IdempotencyKeyInUse),  # running claims do not expire
    ],
)
def test_what_a_request_with_a_known_key_does(stored: Any, outcome: Any) -> None:
    if isinstance(outcome, Decision):
        assert decide(stored, DIGEST, NOW, alive, STALE_BEFORE) is outcome
    else:
        with pytest.raises(outcome):
            decide(stored, DIGEST, NOW, alive, STALE_BEFORE)


# --- the OpenAPI document --------------------------------------------------------------------


def test_the_openapi_document_names_the_headers_of_every_route_that_takes_them(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({}, data=tmp_path, private_key="private_k")
    prepare_data_folder(settings)
    app = create_app(settings)
    while not isinstance(app, Litestar):
        app = app.app  # type: ignore[attr-defined]
    with TestClient(app=app) as client:
        paths = client.get("/docs/openapi.json").json()["paths"]

    def headers(path: str, method: str) -> set[str]:
        parameters = paths[path][method].get("parameters", [])
        return {p["name"] for p in parameters if p["in"] == "header"}

    if_match = [
        ("/api/v1/files/upload", "post"),
        ("/v1/files/{file_id}/versions/{version_id}/restore", "put"),
        ("/v1/files/{file_id}/versions/{version_id}", "delete"),
        ("/v1/files/{file_id}/details", "patch"),
        ("/v1/files/{file_id}", "delete"),
        ("/v1/files/copy", "post"),
        ("/v1/files/move", "post"),
        ("/v1/files/rename", "put"),
    ]
    idempotent = [
        ("/api/v1/files/upload", "post"),
        ("/v1/files/copy", "post"),
        ("/v1/files/move", "post"),
        ("/v1/files/rename", "put"),
        ("/v1/files/batch/deleteByFileIds", "post"),
        ("/v1/files/addTags", "post"),
        ("/v1/files/removeTags", "post"),
        ("/v1/folder", "post"),
        ("/v1/folder", "delete"),
    ]
    for path, method in if_match:
        assert "If-Match" in headers(path, method), (path, method)
        assert "412" in paths[path][method]["responses"]
    for path, method in idempotent:
        assert "Idempotency-Key" in headers(path, method), (path, method)
        assert {"409", "422"} <= set(paths[path][method]["responses"])
    assert "If-None-Match" in headers("/api/v1/files/upload", "post")
    for path in (
        "/v1/files/{file_id}/details",
        "/v1/files/{file_id}/versions",
        "/v1/files/{file_id}/versions/{version_id}",
    ):
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"], path
    assert "ETag" in paths["/api/v1/files/upload"]["post"]["responses"]["200"]["headers"]
