"""Custom metadata fields: their schemas, and the values assets may carry for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mediavault.domain.models import CustomMetadataField, JsonObject
from mediavault.errors import InvalidRequest

TYPES = ("Text", "Textarea", "Number", "Date", "Boolean", "SingleSelect", "MultiSelect")
_TYPE_BY_NAME = {t.lower(): t for t in TYPES}
_SCHEMA_KEYS = {
    "type",
    "selectOptions",
    "defaultValue",
    "isValueRequired",
    "minValue",
    "maxValue",
    "minLength",
    "maxLength",
}
Scalar = str | int | float | bool


def invalid_schema(why: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid schema object. {why}")


def checked_schema(raw: Any, current_type: str | None = None) -> JsonObject:
    """A field schema, validated; on update `current_type` is the type that cannot change."""
    if not isinstance(raw, dict):
        raise invalid_schema("schema must be an object.")
    unknown = set(raw) - _SCHEMA_KEYS
    if unknown:
        raise invalid_schema(f"Unknown properties: {', '.join(sorted(unknown))}.")
    raw_type = raw.get("type", current_type)
    kind = _TYPE_BY_NAME.get(str(raw_type).lower()) if raw_type is not None else None
    if kind is None:
        raise invalid_schema(f"type must be one of {', '.join(TYPES)}.")
    if current_type is not None and kind != current_type:
        raise invalid_schema("The type of a field cannot be changed.")
    schema: JsonObject = {"type": kind}
    if kind in ("SingleSelect", "MultiSelect"):
        options = raw.get("selectOptions")
        if not isinstance(options, list) or not options or not all(_is_scalar(o) for o in options):
            raise invalid_schema("selectOptions must be a non-empty array of values.")
        schema["selectOptions"] = options
    elif "selectOptions" in raw:
        raise invalid_schema("selectOptions is only for SingleSelect and MultiSelect fields.")
    for key in ("minLength", "maxLength"):
        if key in raw:
            if kind not in ("Text", "Textarea"):
                raise invalid_schema(f"{key} is only for Text and Textarea fields.")
            if not _is_number(raw[key]) or raw[key] < 0:
                raise invalid_schema(f"{key} must be a number of at least 0.")
            schema[key] = raw[key]
    for key in ("minValue", "maxValue"):
        if key in raw:
            if kind not in ("Number", "Date"):
                raise invalid_schema(f"{key} is only for Number and Date fields.")
            if (kind == "Number" and not _is_number(raw[key])) or (
                kind == "Date" and _date(raw[key]) is None
            ):
                raise invalid_schema(f"{key} must be a {'number' if kind == 'Number' else 'date'}.")
            schema[key] = raw[key]
    if "isValueRequired" in raw:
        if not isinstance(raw["isValueRequired"], bool):
            raise invalid_schema("isValueRequired must be true or false.")
        schema["isValueRequired"] = raw["isValueRequired"]
    if "defaultValue" in raw:
        error = value_error(schema, raw["defaultValue"])
        if error:
            raise invalid_schema(f"defaultValue: {error}")
        schema["defaultValue"] = raw["defaultValue"]
    elif schema.get("isValueRequired"):
        raise invalid_schema("A required field needs a defaultValue.")
    return schema


def checked_values(values: JsonObject, fields: list[CustomMetadataField]) -> None:
    """Check an asset's customMetadata against the declared fields; null values pass (they
    unset a value)."""
    by_name = {f.name: f for f in fields if not f.is_deleted}
    errors: dict[str, str] = {}
    for key, value in values.items():
        field = by_name.get(key)
        if field is None:
            errors[key] = "No custom metadata field with this name exists."
            continue
        problem = value_error(field.schema, value) if value is not None else None
        if problem:
            errors[key] = problem
    if errors:
        raise InvalidRequest("Invalid custom metadata.", extra={"errors": errors})


def with_required_defaults(values: JsonObject, fields: list[CustomMetadataField]) -> JsonObject:
    """A new version's customMetadata: required fields it lacks take their default value."""
    result = {k: v for k, v in values.items() if v is not None}
    for field in fields:
        if not field.is_deleted and field.schema.get("isValueRequired"):
            result.setdefault(field.name, field.schema.get("defaultValue"))
    return result


def value_error(schema: JsonObject, value: Any) -> str | None:
    """Why `value` does not fit the schema, or None when it does."""
    kind = schema["type"]
    if kind in ("Text", "Textarea"):
        if not isinstance(value, str):
            return "must be a string"
        if len(value) < schema.get("minLength", 0):
            return f"must be at least {schema['minLength']} characters long"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"must be at most {schema['maxLength']} characters long"
        return None
    if kind == "Number":
        if not _is_number(value):
            return "must be a number"
        return _range_error(schema, value, value)
    if kind == "Date":
        moment = _date(value)
        if moment is None:
            return "must be an ISO 8601 date"
        return _range_error(schema, moment, value)
    if kind == "Boolean":
        return None if isinstance(value, bool) else "must be true or false"
    options = schema.get("selectOptions", [])
    if kind == "SingleSelect":
        return None if _is_scalar(value) and value in options else "must be one of selectOptions"
    if not isinstance(value, list) or not all(_is_scalar(v) and v in options for v in value):
        return "must be an array of values from selectOptions"
    return None


def _range_error(schema: JsonObject, comparable: Any, shown: Any) -> str | None:
    low, high = schema.get("minValue"), schema.get("maxValue")
    if schema["type"] == "Date":
        low, high = _date(low), _date(high)
    if low is not None and comparable < low:
        return f"{shown} is below the minimum value"
    if high is not None and comparable > high:
        return f"{shown} is above the maximum value"
    return None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Naive times are UTC; everything compares as naive UTC.
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, Scalar)
