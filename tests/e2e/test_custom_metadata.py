"""Custom metadata fields: CRUD through the SDK, and values checked on upload and update."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_fields_are_created_listed_updated_and_deleted(client: ImageKit) -> None:
    name = unique("size")
    created = client.custom_metadata_fields.create(
        name=name,
        label=name.upper(),
        schema={"type": "SingleSelect", "select_options": ["S", "M", "L"]},
    )
    assert len(created.id) == 24 and created.name == name
    assert created.schema_.type == "SingleSelect" and created.schema_.select_options == [
        "S",
        "M",
        "L",
    ]
    assert name in {f.name for f in client.custom_metadata_fields.list()}

    updated = client.custom_metadata_fields.update(
        created.id, label=f"{name} label", schema={"select_options": ["S", "M", "L", "XL"]}
    )
    assert updated.label == f"{name} label" and updated.schema_.select_options[-1] == "XL"

    assert client.custom_metadata_fields.delete(created.id) is None
    assert name not in {f.name for f in client.custom_metadata_fields.list()}
    assert name in {f.name for f in client.custom_metadata_fields.list(include_deleted=True)}
    with pytest.raises(imagekitio.BadRequestError) as reserved:
        client.custom_metadata_fields.create(name=name, label="other", schema={"type": "Text"})
    assert (
        reserved.value.body["message"] == "A custom metadata field with this name already exists."
    )
    with pytest.raises(imagekitio.NotFoundError) as gone:
        client.custom_metadata_fields.delete(created.id)
    assert gone.value.body["message"] == "No such custom metadata field exists."


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "Colour"}, "type must be one of"),
        ({"type": "SingleSelect"}, "selectOptions"),
        ({"type": "Number", "minLength": 3}, "minLength"),
        ({"type": "Text", "minValue": 3}, "minValue"),
        ({"type": "Number", "isValueRequired": True}, "defaultValue"),
        ({"type": "Number", "defaultValue": "ten"}, "defaultValue"),
        ({"type": "Date", "maxValue": "not a date"}, "maxValue"),
        ("Text", "schema must be an object"),
    ],
)
def test_invalid_schemas_are_refused(server: ServerProcess, schema: object, fragment: str) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/customMetadataFields",
        json={"name": unique("bad"), "label": unique("bad"), "schema": schema},
        auth=(TEST_KEY, ""),
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid schema object.")
    assert fragment in response.json()["message"]


def test_update_errors(client: ImageKit, server: ServerProcess) -> None:
    field = client.custom_metadata_fields.create(
        name=unique("n"), label=unique("l"), schema={"type": "Number"}
    )
    url = f"{server.base_url}/v1/customMetadataFields/{field.id}"
    auth = (TEST_KEY, "")
    for body, message in [
        ({}, "Either label or schema should be provided."),
        ({"name": "x"}, "Name cannot be updated."),
        (
            {"schema": {"type": "Text"}},
            "Invalid schema object. The type of a field cannot be changed.",
        ),
    ]:
        response = httpx.patch(url, json=body, auth=auth)
        assert (response.status_code, response.json()["message"]) == (400, message)
    bad_id = httpx.patch(
        f"{server.base_url}/v1/customMetadataFields/xyz", json={"label": "a"}, auth=auth
    )
    assert bad_id.json()["message"] == "Your request contains invalid ID parameter."
    unknown = httpx.patch(
        f"{server.base_url}/v1/customMetadataFields/0123456789abcdef01234567",
        json={"label": "a"},
        auth=auth,
    )
    assert (unknown.status_code, unknown.json()["message"]) == (
        404,
        "No such custom metadata field exists.",
    )


@pytest.fixture
def retire_fields(client: ImageKit) -> Iterator[None]:
    """Delete the fields a test declares: a required field would reach other tests' uploads."""
    before = {f.id for f in client.custom_metadata_fields.list()}
    yield
    for field in client.custom_metadata_fields.list():
        if field.id not in before:
            client.custom_metadata_fields.delete(field.id)


@pytest.mark.usefixtures("retire_fields")
def test_values_are_checked_against_the_fields(client: ImageKit, folder: str) -> None:
    price, colour, day = unique("price"), unique("colour"), unique("day")
    client.custom_metadata_fields.create(
        name=price, label=price, schema={"type": "Number", "min_value": 1, "max_value": 100}
    )
    client.custom_metadata_fields.create(
        name=colour, label=colour, schema={"type": "MultiSelect", "select_options": ["red", "blue"]}
    )
    client.custom_metadata_fields.create(
        name=day,
        label=day,
        schema={"type": "Date", "is_value_required": True, "default_value": "2024-01-01T00:00:00Z"},
    )
    ok = client.files.upload(
        file=b"x", file_name="m.txt", folder=folder, custom_metadata={price: 5, colour: ["red"]}
    )
    stored = client.files.get(ok.file_id).custom_metadata
    assert stored == {price: 5, colour: ["red"], day: "2024-01-01T00:00:00Z"}

    for values in (
        {price: 500},
        {price: "5"},
        {colour: ["green"]},
        {"undeclared": 1},
        {day: "yesterday"},
    ):
        with pytest.raises(imagekitio.BadRequestError) as refused:
            client.files.upload(file=b"y", file_name="m.txt", folder=folder, custom_metadata=values)
        assert refused.value.body["message"] == "Invalid custom metadata."
        assert set(refused.value.body["errors"]) == set(values)
        with pytest.raises(imagekitio.BadRequestError):
            client.files.update(ok.file_id, custom_metadata=values)
    assert client.files.get(ok.file_id).custom_metadata == stored

    updated = client.files.update(ok.file_id, custom_metadata={price: 99, colour: None})
    assert updated.custom_metadata == {price: 99, day: "2024-01-01T00:00:00Z"}
    found = client.assets.list(search_query=f'"customMetadata.{price}" >= 99', path=folder)
    assert [f.file_id for f in found] == [ok.file_id]
