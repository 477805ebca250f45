"""The upload route's multipart body in the OpenAPI document.

The route reads its body as a stream, so Litestar cannot infer the form: it is described here,
field by field, as ImageKit documents it (spec §5.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from mediavault.domain.names import MAX_FILE_NAME_CHARS

_BOOLEAN = Schema(type=OpenAPIType.STRING, enum=["true", "false"])
_TEXT = Schema(type=OpenAPIType.STRING)

UPLOAD_FORM = Schema(
    type=OpenAPIType.OBJECT,
    required=["file", "fileName"],
    properties={
        "file": Schema(
            description="The bytes (a file part), or text: base64, a data URI, or an "
            "http(s) URL to fetch.",
            one_of=[Schema(type=OpenAPIType.STRING, format="binary"), _TEXT],  # type: ignore[arg-type]
        ),
        "fileName": Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_FILE_NAME_CHARS),
        "folder": _TEXT,
        "useUniqueFileName": _BOOLEAN,
        "tags": Schema(type=OpenAPIType.STRING, description="Comma-separated, 500 characters"),
        "isPrivateFile": _BOOLEAN,
        "isPublished": _BOOLEAN,
        "customCoordinates": Schema(type=OpenAPIType.STRING, pattern=r"^\d+,\d+,\d+,\d+$"),
        "customMetadata": Schema(type=OpenAPIType.STRING, description="A JSON object"),
        "description": Schema(type=OpenAPIType.STRING, max_length=1024),
        "overwriteFile": _BOOLEAN,
        "overwriteTags": _BOOLEAN,
        "overwriteCustomMetadata": _BOOLEAN,
        "overwriteAITags": _BOOLEAN,
        "responseFields": Schema(type=OpenAPIType.STRING, description="Comma-separated"),
    },
)


@dataclass
class UploadOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=UPLOAD_FORM)}, required=True
        )
