"""Pins: PUT/DELETE .../pin, a pinned version refused by DELETE and kept by retention, and
`?include=pinned` on the version reads (the SDK's models see nothing new without it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, check_invariants

PINNED_MESSAGE = "This version is pinned; unpin it before deleting it."


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60) as client:
        yield client


def three_versions(client: ImageKit, folder: str) -> tuple[str, list[str]]:
    """A file with versions 1..3; returns its id and the version ids, Version 1 first."""
    file_id = ""
    for n in range(3):
        file_id = client.files.upload(
            file=f"{folder} pin {n}".encode(),
            file_name="pin.txt",
            folder=folder,
            use_unique_file_name=False,
        ).file_id
    listed = client.files.versions.list(file_id)
    return file_id, [v.version_info.id for v in reversed(listed)]  # type: ignore[union-attr]


def pin_url(file_id: str, version_id: str) -> str:
    return f"/v1/files/{file_id}/versions/{version_id}/pin"


def test_pinning_and_unpinning_are_idempotent_204s(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, _, _) = three_versions(client, folder)
    for _ in range(2):
        pinned = http.put(pin_url(file_id, v1))
        assert (pinned.status_code, pinned.content) == (204, b"")
    assert _pinned_flags(http, file_id)[v1] is True
    for _ in range(2):
        assert http.delete(pin_url(file_id, v1)).status_code == 204
    assert _pinned_flags(http, file_id)[v1] is False


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_pin_of_an_unknown_file_or_version_is_a_404_like_the_version_routes(
    client: ImageKit, http: httpx.Client, folder: str, method: str
) -> None:
    file_id, (v1, _, _) = three_versions(client, folder)
    other_id, (other_v1, _, _) = three_versions(client, f"{folder}/other")
    missing = "0" * 24
    for url in (pin_url(missing, v1), pin_url(file_id, missing), pin_url(file_id, other_v1)):
        answer = http.request(method, url)
        assert answer.status_code == 404, url
        assert answer.json()["message"] == "The requested asset does not exist."
    malformed = http.request(method, pin_url(file_id, "nope"))
    assert malformed.status_code == 400
    assert malformed.json()["message"] == "Your request contains invalid versionId parameter."
    assert httpx.request(method, f"{http.base_url}{pin_url(file_id, v1)}").status_code == 401
    assert other_id != file_id


def test_a_pinned_version_cannot_be_deleted_until_unpinned(
    client: ImageKit, http: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id, (v1, v2, _) = three_versions(client, folder)
    http.put(pin_url(file_id, v1))
    with pytest.raises(imagekitio.BadRequestError) as refused:
        client.files.versions.delete(v1, file_id=file_id)
    assert refused.value.body["message"] == PINNED_MESSAGE  # type: ignore[index]
    # Other versions are unaffected.
    client.files.versions.delete(v2, file_id=file_id)
    http.delete(pin_url(file_id, v1))
    client.files.versions.delete(v1, file_id=file_id)
    assert len(client.files.versions.list(file_id)) == 1
    check_invariants(data)


def _pinned_flags(http: httpx.Client, file_id: str) -> dict[str, Any]:
    listed = http.get(f"/v1/files/{file_id}/versions", params={"include": "pinned"})
    assert listed.status_code == 200
    return {item["versionInfo"]["id"]: item["pinned"] for item in listed.json()}


def test_include_pinned_adds_the_field_only_when_asked(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, v2, v3) = three_versions(client, folder)
    http.put(pin_url(file_id, v2))

    assert _pinned_flags(http, file_id) == {v1: False, v2: True, v3: False}
    one = http.get(f"/v1/files/{file_id}/versions/{v2}", params={"include": "pinned"}).json()
    assert one["pinned"] is True and one["versionInfo"]["id"] == v2
    other = http.get(f"/v1/files/{file_id}/versions/{v1}", params={"include": "pinned"}).json()
    assert other["pinned"] is False

    # Without it: ImageKit's File object, as before (fast path and Litestar route alike).
    plain = http.get(f"/v1/files/{file_id}/versions").json()
    assert all("pinned" not in item for item in plain)
    assert "pinned" not in http.get(f"/v1/files/{file_id}/versions/{v2}").json()
    with_include = http.get(f"/v1/files/{file_id}/versions", params={"include": "pinned"}).json()
    assert [{k: v for k, v in item.items() if k != "pinned"} for item in with_include] == plain
    # The SDK's models are unchanged.
    sdk_version = client.files.versions.get(v2, file_id=file_id)
    assert "pinned" not in sdk_version.model_dump(exclude_none=True)

    for bad in ("tags", "", "pinned,tags"):
        refused = http.get(f"/v1/files/{file_id}/versions", params={"include": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["message"] == (
            'Your request contains invalid include parameter. Its only value is "pinned".'
        )
    unknown = http.get(f"/v1/files/{file_id}/versions/{v2}", params={"includes": "pinned"})
    assert unknown.status_code == 400
    assert "unknown query parameters: includes" in unknown.json()["message"]


def test_retention_keeps_a_pinned_version(
    client: ImageKit, http: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id, (v1, v2, v3) = three_versions(client, folder)
    http.put(pin_url(file_id, v1))
    policy = http.post("/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 1}).json()
    try:
        preview = http.post(f"/v1/retentionPolicies/{policy['id']}/preview").json()
        assert [item["versionId"] for item in preview["wouldDelete"]] == [v2]
        data.cli("retention", "apply")
        assert {v.version_info.id for v in client.files.versions.list(file_id)} == {v1, v3}  # type: ignore[union-attr]
    finally:
        http.delete(f"/v1/retentionPolicies/{policy['id']}")
    check_invariants(data)


def test_a_file_with_a_pinned_version_can_still_be_deleted_whole(
    client: ImageKit, http: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id, (v1, _, _) = three_versions(client, folder)
    http.put(pin_url(file_id, v1))
    client.files.delete(file_id)
    with pytest.raises(imagekitio.NotFoundError):
        client.files.versions.list(file_id)
    assert http.put(pin_url(file_id, v1)).status_code == 404
    check_invariants(data)
