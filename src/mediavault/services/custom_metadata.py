"""Custom metadata fields: declare, list, change and retire them."""

from __future__ import annotations

from msgspec.structs import replace

from mediavault.domain.custom_metadata import checked_schema
from mediavault.domain.ids import is_object_id, new_object_id
from mediavault.domain.models import CustomMetadataField, JsonObject
from mediavault.errors import InvalidRequest, NotFound
from mediavault.services.clock import now_ms
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores

MAX_NAME_CHARS = 255


@retry_on_conflict
def create_field(stores: Stores, name: str, label: str, schema: object) -> CustomMetadataField:
    if len(name) > MAX_NAME_CHARS or len(label) > MAX_NAME_CHARS:
        raise InvalidRequest(f"name and label can be at most {MAX_NAME_CHARS} characters long.")
    field = CustomMetadataField(new_object_id(), name, label, checked_schema(schema))
    with stores.meta.write() as tx:
        # A deleted field keeps its name reserved, as on ImageKit.
        if tx.field_name_taken(name):
            raise InvalidRequest("A custom metadata field with this name already exists.")
        if tx.field_label_taken(label):
            raise InvalidRequest("A custom metadata field with this label already exists.")
        tx.insert_field(field, now_ms())
    return field


def list_fields(stores: Stores, include_deleted: bool) -> list[CustomMetadataField]:
    with stores.meta.read() as tx:
        return tx.list_fields(include_deleted)


@retry_on_conflict
def update_field(
    stores: Stores, field_id: str, label: str | None, schema: JsonObject | None
) -> CustomMetadataField:
    _check_id(field_id)
    if label is None and schema is None:
        raise InvalidRequest("Either label or schema should be provided.")
    with stores.meta.write() as tx:
        field = tx.get_field(field_id)
        if field is None:
            raise NotFound("No such custom metadata field exists.")
        if field.is_deleted:
            raise InvalidRequest("Cannot update a deleted custom metadata fields.")
        if label is not None and tx.field_label_taken(label, except_id=field_id):
            raise InvalidRequest("A custom metadata field with this label already exists.")
        # A partial schema updates the properties it names and keeps the others.
        new_schema = (
            checked_schema({**field.schema, **schema}, current_type=field.schema["type"])
            if schema is not None
            else field.schema
        )
        updated = replace(field, label=label or field.label, schema=new_schema)
        tx.update_field(field_id, updated.label, updated.schema, now_ms())
        return updated


@retry_on_conflict
def delete_field(stores: Stores, field_id: str) -> None:
    _check_id(field_id)
    with stores.meta.write() as tx:
        field = tx.get_field(field_id)
        if field is None or field.is_deleted:
            raise NotFound("No such custom metadata field exists.")
        tx.delete_field(field_id, now_ms())


def _check_id(field_id: str) -> None:
    if not is_object_id(field_id):
        raise InvalidRequest("Your request contains invalid ID parameter.")
