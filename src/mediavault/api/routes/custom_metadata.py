"""/v1/customMetadataFields: declare the fields assets' customMetadata may use."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, patch, post
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.domain.models import CustomMetadataField
from mediavault.errors import InvalidRequest
from mediavault.services import custom_metadata


def field_object(field: CustomMetadataField) -> dict[str, Any]:
    return {"id": field.id, "name": field.name, "label": field.label, "schema": field.schema}


@post(
    "/",
    status_code=201,
    summary="Create a custom metadata field",
    operation_class=documented(
        {201: ("The new field.", openapi.CUSTOM_METADATA_FIELD)}, body=openapi.FIELD_CREATE
    ),
)
async def create_field(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = forms.json_object(await request.body())
    name = forms.required_string(body, "name")
    label = forms.required_string(body, "label")
    if "schema" not in body:
        raise InvalidRequest("Your request is missing parameters: schema.")
    forms.refuse_nul("schema", body["schema"])
    stores = context_of(request).stores
    field = await to_thread.run_sync(
        custom_metadata.create_field, stores, name, label, body["schema"]
    )
    return field_object(field)


@get(
    "/",
    summary="List custom metadata fields",
    operation_class=documented(
        {200: ("The fields.", openapi.FIELD_LIST)}, query=openapi.LIST_FIELDS_QUERY
    ),
    opt=openapi.accepts(openapi.LIST_FIELDS_QUERY),
)
async def list_fields(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    raw = request.query_params.get("includeDeleted", "false").lower()
    if raw not in ("true", "false"):
        raise forms.invalid("includeDeleted", "It must be true or false.")
    stores = context_of(request).stores
    fields = await to_thread.run_sync(custom_metadata.list_fields, stores, raw == "true")
    return [field_object(f) for f in fields]


@patch(
    "/{field_id:str}",
    summary="Update a custom metadata field's label or schema",
    operation_class=documented(
        {200: ("The updated field.", openapi.CUSTOM_METADATA_FIELD)}, body=openapi.FIELD_UPDATE
    ),
)
async def update_field(request: Request[Any, Any, Any], field_id: FromPath[str]) -> dict[str, Any]:
    body = forms.json_object(await request.body())
    if "name" in body:
        raise InvalidRequest("Name cannot be updated.")
    # A key that is present must carry a value of its type; null does not mean "unchanged".
    label = body.get("label")
    if "label" in body and (not isinstance(label, str) or not label.strip()):
        raise forms.invalid("label")
    schema = body.get("schema")
    if "schema" in body and not isinstance(schema, dict):
        raise InvalidRequest("Invalid schema object. schema must be an object.")
    forms.refuse_nul("label", label)
    forms.refuse_nul("schema", schema)
    stores = context_of(request).stores
    field = await to_thread.run_sync(custom_metadata.update_field, stores, field_id, label, schema)
    return field_object(field)


@delete(
    "/{field_id:str}",
    status_code=204,
    summary="Delete a custom metadata field",
    operation_class=documented({204: ("Deleted.", None)}),
)
async def delete_field(request: Request[Any, Any, Any], field_id: FromPath[str]) -> None:
    await to_thread.run_sync(custom_metadata.delete_field, context_of(request).stores, field_id)


router = Router(
    path="/v1/customMetadataFields",
    guards=MANAGEMENT_GUARDS,
    tags=["custom metadata fields"],
    route_handlers=[create_field, list_fields, update_field, delete_field],
)
