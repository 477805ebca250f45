"""Upload form fields and JSON bodies, parsed into service inputs with ImageKit's messages."""

from __future__ import annotations

import json
import re
from typing import Any

from mediavault.domain.models import JsonObject
from mediavault.domain.versioning import DetailsUpdate, PublishUpdate, UploadOptions
from mediavault.errors import InvalidRequest
from mediavault.serializers import UPLOAD_RESPONSE_FIELDS
from mediavault.services.uploads import UploadTarget

MAX_TAGS_CHARS = 500
MAX_DESCRIPTION_CHARS = 1024
_COORDINATES = re.compile(r"\d+,\d+,\d+,\d+")
# Fields that ask for processing this server does not do: refusing them is safer than
# answering as if the checks ran or the transformations were queued.
_UNSUPPORTED_UPLOAD_FIELDS = ("extensions", "transformation", "checks")


def invalid(name: str, why: str = "") -> InvalidRequest:
    return InvalidRequest(
        f"Your request contains invalid {name} parameter.{' ' + why if why else ''}"
    )


# Names are made safe instead (a NUL becomes "_", as other unusable characters do).
_SANITIZED_FIELDS = frozenset({"fileName", "folder"})


def upload_fields(fields: dict[str, str]) -> tuple[UploadTarget, UploadOptions, frozenset[str]]:
    for name, value in fields.items():
        if name not in _SANITIZED_FIELDS:
            refuse_nul(name, value)
    file_name = fields.get("fileName")
    if file_name is None or not file_name.strip():
        raise InvalidRequest("Your request is missing fileName parameter.")
    for name in _UNSUPPORTED_UPLOAD_FIELDS:
        value = fields.get(name, "").strip()
        if value and value != "[]":
            raise invalid(name, f"The {name} parameter is not supported by this server.")
    options = UploadOptions(
        tags=_tags(fields["tags"]) if "tags" in fields else None,
        custom_metadata=_custom_metadata(fields["customMetadata"])
        if "customMetadata" in fields
        else None,
        custom_coordinates=_coordinates(fields.get("customCoordinates")),
        description=_description(fields.get("description")),
        is_private_file=_boolean(fields, "isPrivateFile", False),
        is_published=_boolean(fields, "isPublished", True),
        use_unique_file_name=_boolean(fields, "useUniqueFileName", True),
        overwrite_file=_boolean(fields, "overwriteFile", True),
        overwrite_tags=_boolean(fields, "overwriteTags", True),
        overwrite_custom_metadata=_boolean(fields, "overwriteCustomMetadata", True),
        overwrite_ai_tags=_boolean(fields, "overwriteAITags", True),
    )
    target = UploadTarget(file_name=file_name, folder=fields.get("folder"))
    return target, options, _response_fields(fields.get("responseFields"))


def details_update(body: bytes) -> DetailsUpdate | PublishUpdate:
    data = json_object(body)
    if "publish" in data:
        if len(data) > 1:
            raise InvalidRequest(
                "Your request contains invalid parameters. "
                "Send either publish or file details, not both."
            )
        return _publish(data["publish"])
    fields: dict[str, Any] = {}
    if "tags" in data:
        fields["tags"] = _tag_list(data["tags"])
    if "removeAITags" in data:
        value = data["removeAITags"]
        if value != "all" and not _is_string_list(value):
            raise invalid("removeAITags", 'It must be "all" or an array of strings.')
        refuse_nul("removeAITags", value)
        fields["remove_ai_tags"] = value
    if "customCoordinates" in data:
        value = data["customCoordinates"]
        if value is not None and not isinstance(value, str):
            raise invalid("customCoordinates")
        fields["custom_coordinates"] = _coordinates(value)
    if "customMetadata" in data:
        value = data["customMetadata"]
        if not isinstance(value, dict):
            raise InvalidRequest("Invalid custom metadata.")
        fields["custom_metadata"] = _checked_metadata(value)
    if "description" in data:
        value = data["description"]
        if not isinstance(value, str):
            raise invalid("description", "It must be a string.")
        fields["description"] = _description(value)
    extensions = data.get("extensions")
    if extensions:
        raise invalid("extensions", "The extensions parameter is not supported by this server.")
    return DetailsUpdate(**fields)


def bulk_file_ids(body: bytes) -> list[str]:
    return file_ids(json_object(body))


def file_ids(data: dict[str, Any]) -> list[str]:
    if "fileIds" not in data:
        raise InvalidRequest("fileIds parameter is missing.")
    ids = data["fileIds"]
    if not isinstance(ids, list):
        raise InvalidRequest("fileIds should be an Array.")
    if not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("fileIds should be an Array of strings.")
    refuse_nul("fileIds", ids)
    return ids


def string_list(data: dict[str, Any], name: str) -> list[str]:
    if name not in data:
        raise InvalidRequest(f"{name} parameter is missing.")
    if not _is_string_list(data[name]):
        raise InvalidRequest(
            f"Your request contains invalid value for {name}. Please provide an array of "
            "strings. Example - ['t-shirt','summer-sale']."
        )
    refuse_nul(name, data[name])
    return [t.strip() for t in data[name] if t.strip()]


def optional_boolean(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(name, "It must be true or false.")
    return value


def json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = decode_json(body)
    except ValueError:
        raise InvalidRequest("Your request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("Your request body must be a JSON object.")
    return data


def decode_json(text: str | bytes) -> Any:
    """Strict JSON: ValueError for anything else, hostile nesting and NaN/Infinity included.

    Python's parser accepts NaN, which would later be written back out as invalid JSON, and
    overflows its stack on `[[[[...`; both are bad input, not server errors. A NUL character
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    return data


def refuse_nul(name: str, value: Any) -> None:
    """No value the server uses may hold a NUL character, however deep in it.

    PostgreSQL cannot store one in text or JSON (nor compare text with one), and no name, tag
    or metadata value needs it. Keys the server ignores are not looked at.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(name, "It contains a NUL character.")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(name, key)
            refuse_nul(name, item)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(name, item)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def required_string(body: dict[str, Any], name: str) -> str:
    if name not in body or body[name] is None:
        raise InvalidRequest(
            f"Your request is missing parameters: {name}.", reason="MISSING_PARAMETER"
        )
    value = body[name]
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"Your request contains invalid {name} parameter.", reason="INVALID_PARAMETER"
        )
    refuse_nul(name, value)
    return value


def _publish(value: Any) -> PublishUpdate:
    if not isinstance(value, dict) or not isinstance(value.get("isPublished"), bool):
        raise invalid("publish", "publish.isPublished must be a boolean.")
    include = value.get("includeFileVersions", False)
    if not isinstance(include, bool):
        raise invalid("publish", "publish.includeFileVersions must be a boolean.")
    return PublishUpdate(value["isPublished"], include)


def _boolean(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise invalid(name, "It must be true or false.")
    return lowered == "true"


def _tags(raw: str) -> list[str]:
    return _checked_tags([t.strip() for t in raw.split(",") if t.strip()])


def _tag_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not _is_string_list(value):
        raise invalid("tags", "It must be an array of strings.")
    return _checked_tags([t.strip() for t in value if t.strip()])


def _checked_tags(tags: list[str]) -> list[str]:
    refuse_nul("tags", tags)
    if sum(len(t) for t in tags) > MAX_TAGS_CHARS:
        raise invalid("tags", f"Tags can have at most {MAX_TAGS_CHARS} characters in total.")
    if any("%" in t for t in tags):
        raise invalid("tags", "Tags cannot contain the % character.")
    return list(dict.fromkeys(tags))


def _custom_metadata(raw: str) -> JsonObject:
    try:
        value = decode_json(raw) if raw.strip() else {}
    except ValueError:
        raise invalid("customMetadata", "It must be a JSON object.") from None
    if not isinstance(value, dict):
        raise invalid("customMetadata", "It must be a JSON object.")
    return _checked_metadata(value)


def _checked_metadata(value: dict[str, Any]) -> JsonObject:
    refuse_nul("customMetadata", value)
    for key, item in value.items():
        if not key or not _is_metadata_value(item):
            raise InvalidRequest("Invalid custom metadata.")
    return value


def _is_metadata_value(item: Any) -> bool:
    scalar = (str, int, float, bool)
    if item is None or isinstance(item, scalar):
        return True
    return isinstance(item, list) and all(isinstance(i, scalar) for i in item)


def _coordinates(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if not _COORDINATES.fullmatch(value):
        raise invalid("customCoordinates", "It must be x,y,width,height in whole pixels.")
    return value


def _description(raw: str | None) -> str | None:
    refuse_nul("description", raw)
    if raw is not None and len(raw) > MAX_DESCRIPTION_CHARS:
        raise invalid("description", f"It can be at most {MAX_DESCRIPTION_CHARS} characters.")
    return raw


def _response_fields(raw: str | None) -> frozenset[str]:
    wanted = frozenset(f.strip() for f in (raw or "").split(",") if f.strip())
    unknown = wanted - UPLOAD_RESPONSE_FIELDS
    if unknown:
        raise invalid("responseFields", f"Unknown fields: {', '.join(sorted(unknown))}.")
    return wanted


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
