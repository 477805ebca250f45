"""/v1/customMetadataFields: declare the fields assets' customMetadata may use."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, patch, post
from litestar.params import FromPath

from mediavault.api import forms
from mediavault.api.auth import require_private_key
from mediavault.api.context import context_of
from mediavault.domain.models import CustomMetadataField
from mediavault.errors import InvalidRequest
from mediavault.services import custom_metadata


def field_object(field: CustomMetadataField) -> dict[str, Any]:
    return {"id": field.id, "name": field.name, "label": field.label, "schema": field.schema}


@post("/", status_code=201, summary="Create a custom metadata field")
async def create_field(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = forms.json_object(await request.body())
    name = forms.required_string(body, "name")
    label = forms.required_string(body, "label")
    if "schema" not in body:
        raise InvalidRequest("Your request is missing parameters: schema.")
    stores = context_of(request).stores
    field = await to_thread.run_sync(
        custom_metadata.create_field, stores, name, label, body["schema"]
    )
    return field_object(field)


@get("/", summary="List custom metadata fields")
async def list_fields(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    raw = request.query_params.get("includeDeleted", "false").lower()
    if raw not in ("true", "false"):
        raise forms.invalid("includeDeleted", "It must be true or false.")
    stores = context_of(request).stores
    fields = await to_thread.run_sync(custom_metadata.list_fields, stores, raw == "true")
    return [field_object(f) for f in fields]


@patch("/{field_id:str}", summary="Update a custom metadata field's label or schema")
async def update_field(request: Request[Any, Any, Any], field_id: FromPath[str]) -> dict[str, Any]:
    body = forms.json_object(await request.body())
    if "name" in body:
        raise InvalidRequest("Name cannot be updated.")
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise forms.invalid("label")
    stores = context_of(request).stores
    field = await to_thread.run_sync(
        custom_metadata.update_field, stores, field_id, label, body.get("schema")
    )
    return field_object(field)


@delete("/{field_id:str}", status_code=204, summary="Delete a custom metadata field")
async def delete_field(request: Request[Any, Any, Any], field_id: FromPath[str]) -> None:
    await to_thread.run_sync(custom_metadata.delete_field, context_of(request).stores, field_id)


router = Router(
    path="/v1/customMetadataFields",
    guards=[require_private_key],
    tags=["custom metadata fields"],
    route_handlers=[create_field, list_fields, update_field, delete_field],
)
