"""What the OpenAPI document says that the handlers' signatures cannot.

Routes read their bodies by hand, so that every rejection carries ImageKit's exact message, and
return plain dicts built by the one serializer; Litestar can infer neither. The request bodies,
query parameters and response shapes are described here instead, as ImageKit's API reference
(https://imagekit.io/docs/api-reference) documents them, and attached to each route through
`documented(...)`.

Where a schema describes a request, every value it admits is accepted (the fuzzing test checks
this): patterns spell out the server's own rules, whitespace and length included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)

from mediavault.api.forms import MAX_DESCRIPTION_CHARS, MAX_TAGS_CHARS
from mediavault.api.guards import QUERY_OPT
from mediavault.api.listing_params import SORT_KEYS
from mediavault.domain.custom_metadata import TYPES as FIELD_TYPES
from mediavault.domain.names import MAX_FILE_NAME_CHARS, MAX_FOLDER_DEPTH, MAX_FOLDER_SEGMENT_CHARS
from mediavault.domain.retention import MAX_DAYS, MAX_KEEP_LAST, MAX_THIN_RULES, PERIODS
from mediavault.serializers import UPLOAD_RESPONSE_FIELDS

_STRING = Schema(type=OpenAPIType.STRING)
# In JSON request bodies, no value the server uses may hold a NUL (PostgreSQL cannot store one).
_VALUE = Schema(type=OpenAPIType.STRING, pattern=r"^[^\u0000]*$")
_VALUES = Schema(type=OpenAPIType.ARRAY, items=_VALUE)
# Required text fields: ImageKit rejects empty or blank values with "invalid ... parameter".
_TEXT = Schema(type=OpenAPIType.STRING, pattern=r"^[^\u0000]*[^\s\u0000][^\u0000]*$")
_OBJECT_ID = Schema(type=OpenAPIType.STRING, pattern=r"^[0-9a-fA-F]{24}$")
_BOOLEAN_TEXT = Schema(type=OpenAPIType.STRING, enum=["true", "false"])
_BOOLEAN = Schema(type=OpenAPIType.BOOLEAN)
_INTEGER = Schema(type=OpenAPIType.INTEGER)
_STRINGS = Schema(type=OpenAPIType.ARRAY, items=_STRING)
_NULL = Schema(type=OpenAPIType.NULL)
_OBJECT = Schema(type=OpenAPIType.OBJECT)
_COORDINATES = Schema(type=OpenAPIType.STRING, pattern=r"^\d+,\d+,\d+,\d+$", description="x,y,w,h")

# Whitespace as the server's str.strip() sees it (Python's str.isspace), spelled out: `\s`
# means slightly different sets in Python's and other regex engines.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SEPARATORS = r"/\\"  # both separate folders


def _file_name() -> Schema:
    """A file name as names.sanitize_file_name takes it: at most 255 characters once its outer
    whitespace is stripped, not only dots, no NUL. (Exact but for Unicode normalisation, which
    can change the length of rare characters.)"""
    inner = MAX_FILE_NAME_CHARS - 2
    visible = rf"[^{_SPACE}\u0000]"
    return Schema(
        type=OpenAPIType.STRING,
        all_of=[
            Schema(
                pattern=rf"^[{_SPACE}]*{visible}(?:[^\u0000]{{0,{inner}}}{visible})?[{_SPACE}]*$"
            ),
            # Something besides dots: another visible character, or whitespace inside the name.
            Schema(pattern=rf"[^.{_SPACE}\u0000]|{visible}[{_SPACE}]+{visible}"),
        ],
        description=f"At most {MAX_FILE_NAME_CHARS} characters; not only dots.",
    )


def _path_pieces(nul: str) -> str:
    """At most 50 pieces of at most 255 characters between separators: always within the
    folder limits, however the pieces are stripped or dropped when empty."""
    piece = rf"[^{_SEPARATORS}{nul}]{{0,{MAX_FOLDER_SEGMENT_CHARS}}}"
    return rf"^{piece}(?:[{_SEPARATORS}]{piece}){{0,{MAX_FOLDER_DEPTH - 1}}}$"


_FOLDER = Schema(
    type=OpenAPIType.STRING,
    pattern=_path_pieces(nul=""),  # a NUL becomes "_" like other unusable characters
    description=(
        f"At most {MAX_FOLDER_DEPTH} folders deep, each name at most "
        f"{MAX_FOLDER_SEGMENT_CHARS} characters."
    ),
)
_FILE_PATH = Schema(
    type=OpenAPIType.STRING,
    all_of=[
        Schema(pattern=_path_pieces(nul=r"\u0000")),
        Schema(pattern=rf"[^/{_SPACE}\u0000][{_SPACE}]*$"),  # it names a file, not a folder
    ],
    description="The file's folder path and name, e.g. `/animals/cat.jpg`.",
)


def _nullable(schema: Schema) -> Schema:
    return Schema(one_of=[schema, _NULL])


def _object(required: str, **properties: Schema) -> Schema:
    """An object schema; `required` names the required properties, separated by spaces."""
    fields: dict[str, Schema | Reference] = dict(properties)
    return Schema(type=OpenAPIType.OBJECT, required=required.split(), properties=fields)


# --- responses -----------------------------------------------------------------------------

ERROR = _object(
    "message help",
    message=_STRING,
    help=_STRING,
    reason=_STRING,
    missingFileIds=_STRINGS,
)
ERROR.description = "ImageKit's error shape; some errors add `reason` or `missingFileIds`."

_VERSION_INFO = _object("id name", id=_STRING, name=_STRING)
_AI_TAG = _object("name", name=_STRING, confidence=Schema(type=OpenAPIType.NUMBER), source=_STRING)

# Always present; height, width, hasAlpha and description only when known.
_FILE_KEYS = (
    "type name createdAt updatedAt fileId tags AITags versionInfo isPublished customCoordinates "
    "customMetadata isPrivateFile url thumbnail fileType filePath size mime"
)
FILE = _object(
    _FILE_KEYS,
    type=Schema(type=OpenAPIType.STRING, enum=["file", "file-version"]),
    name=_STRING,
    createdAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    updatedAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    fileId=_STRING,
    tags=_nullable(_STRINGS),
    AITags=_nullable(Schema(type=OpenAPIType.ARRAY, items=_AI_TAG)),
    versionInfo=_VERSION_INFO,
    embeddedMetadata=_nullable(_OBJECT),
    isPublished=_BOOLEAN,
    customCoordinates=_nullable(_STRING),
    customMetadata=_OBJECT,
    isPrivateFile=_BOOLEAN,
    url=_STRING,
    thumbnail=_STRING,
    fileType=Schema(type=OpenAPIType.STRING, enum=["image", "non-image"]),
    filePath=_STRING,
    height=_INTEGER,
    width=_INTEGER,
    size=_INTEGER,
    hasAlpha=_BOOLEAN,
    mime=_STRING,
    description=_STRING,
    duration=_INTEGER,
    videoCodec=_STRING,
    audioCodec=_STRING,
    bitRate=_INTEGER,
)
FILE.description = "ImageKit's File object: a file's current version, or one of its versions."

FOLDER = _object(
    "type folderId name folderPath createdAt updatedAt",
    type=Schema(type=OpenAPIType.STRING, enum=["folder"]),
    folderId=_STRING,
    name=_STRING,
    folderPath=_STRING,
    customMetadata=_OBJECT,
    createdAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    updatedAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
)

UPLOAD_RESULT = _object(
    "fileId name size versionInfo filePath url fileType",
    fileId=_STRING,
    name=_STRING,
    size=_INTEGER,
    versionInfo=_VERSION_INFO,
    filePath=_STRING,
    url=_STRING,
    fileType=Schema(type=OpenAPIType.STRING, enum=["image", "non-image"]),
    height=_INTEGER,
    width=_INTEGER,
    thumbnailUrl=_STRING,
    duration=_INTEGER,
    videoCodec=_STRING,
    audioCodec=_STRING,
    bitRate=_INTEGER,
    AITags=Schema(type=OpenAPIType.ARRAY, items=_AI_TAG),
    description=_STRING,
    tags=_nullable(_STRINGS),
    customCoordinates=_nullable(_STRING),
    isPrivateFile=_BOOLEAN,
    isPublished=_BOOLEAN,
    customMetadata=_OBJECT,
    embeddedMetadata=_nullable(_OBJECT),
    metadata=_OBJECT,
    selectedFieldsSchema=_OBJECT,
)

CUSTOM_METADATA_FIELD = _object(
    "id name label schema", id=_STRING, name=_STRING, label=_STRING, schema=_OBJECT
)

FILE_LIST = Schema(type=OpenAPIType.ARRAY, items=FILE)
ASSET_LIST = Schema(type=OpenAPIType.ARRAY, items=Schema(one_of=[FILE, FOLDER]))
FIELD_LIST = Schema(type=OpenAPIType.ARRAY, items=CUSTOM_METADATA_FIELD)

BULK_TAGS_RESULT = _object(
    "successfullyUpdatedFileIds",
    successfullyUpdatedFileIds=_STRINGS,
    errors=Schema(
        type=OpenAPIType.ARRAY, items=_object("fileId error", fileId=_STRING, error=_STRING)
    ),
)
BULK_DELETE_RESULT = _object("successfullyDeletedFileIds", successfullyDeletedFileIds=_STRINGS)
RENAME_RESULT = _object("", purgeRequestId=_STRING)
EMPTY = Schema(type=OpenAPIType.OBJECT, max_properties=0)

# --- request bodies ------------------------------------------------------------------------

_NO_NUL = r"^[^\u0000]*$"
_RESPONSE_FIELD = rf"[{_SPACE}]*(?:{'|'.join(sorted(UPLOAD_RESPONSE_FIELDS))})?[{_SPACE}]*"
# Fields asking for processing this server does not do: only an empty value is accepted.
_UNSUPPORTED = Schema(
    type=OpenAPIType.STRING,
    pattern=rf"^[{_SPACE}]*(?:\[\])?[{_SPACE}]*$",
    description="Not supported by this server: only empty (or `[]`) is accepted.",
)
UPLOAD_FORM = _object(
    "file fileName",
    file=Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.BINARY,
        min_length=1,
        description=(
            "The bytes, as a file part. A text field (no filename) is read as base64, a data "
            "URI or an http(s) URL to fetch; whether such text is accepted depends on its "
            "content and on the remote server, so the schema describes only the file part."
        ),
    ),
    fileName=_file_name(),
    folder=_FOLDER,
    useUniqueFileName=_BOOLEAN_TEXT,
    tags=Schema(
        type=OpenAPIType.STRING,
        pattern=r"^[^%\u0000]*$",
        max_length=MAX_TAGS_CHARS,
        description=f"Comma-separated, at most {MAX_TAGS_CHARS} characters, no `%`.",
    ),
    isPrivateFile=_BOOLEAN_TEXT,
    isPublished=_BOOLEAN_TEXT,
    customCoordinates=_COORDINATES,
    customMetadata=Schema(
        type=OpenAPIType.STRING,
        description="A JSON object whose keys are declared custom metadata fields.",
    ),
    description=Schema(type=OpenAPIType.STRING, pattern=_NO_NUL, max_length=MAX_DESCRIPTION_CHARS),
    overwriteFile=_BOOLEAN_TEXT,
    overwriteTags=_BOOLEAN_TEXT,
    overwriteCustomMetadata=_BOOLEAN_TEXT,
    overwriteAITags=_BOOLEAN_TEXT,
    responseFields=Schema(
        type=OpenAPIType.STRING,
        pattern=rf"^{_RESPONSE_FIELD}(?:,{_RESPONSE_FIELD})*$",
        description="Comma-separated names of optional response fields.",
    ),
    extensions=_UNSUPPORTED,
    transformation=_UNSUPPORTED,
    checks=_UNSUPPORTED,
)
# Other fields are ignored, unless they hold a NUL (no stored or compared text may).
UPLOAD_FORM.additional_properties = Schema(type=OpenAPIType.STRING, pattern=_NO_NUL)

_DETAILS = _object(
    "",
    tags=_nullable(_VALUES),
    removeAITags=Schema(one_of=[_VALUES, Schema(type=OpenAPIType.STRING, const="all")]),
    customCoordinates=_nullable(_COORDINATES),
    customMetadata=_OBJECT,
    description=_VALUE,
)
_DETAILS.schema_not = _object("publish")  # publication is changed on its own, never with details
_PUBLISH = _object(
    "publish",
    publish=_object("isPublished", isPublished=_BOOLEAN, includeFileVersions=_BOOLEAN),
)
_PUBLISH.additional_properties = False
DETAILS_UPDATE = Schema(one_of=[_DETAILS, _PUBLISH])
# Copy's and rename's flags read null as false, their default (forms.optional_boolean).
_OPTION = Schema(one_of=[_BOOLEAN, _NULL], description="`null` is read as false, the default.")
COPY = _object(
    "sourceFilePath destinationPath",
    sourceFilePath=_TEXT,
    destinationPath=_TEXT,
    includeFileVersions=_OPTION,
)
MOVE = _object("sourceFilePath destinationPath", sourceFilePath=_TEXT, destinationPath=_TEXT)
RENAME = _object(
    "filePath newFileName", filePath=_FILE_PATH, newFileName=_file_name(), purgeCache=_OPTION
)
_SOME_IDS = Schema(type=OpenAPIType.ARRAY, items=_VALUE, min_items=1)
_SOME_TAGS = Schema(type=OpenAPIType.ARRAY, items=_TEXT, min_items=1)
FILE_IDS = _object("fileIds", fileIds=_SOME_IDS)
TAGS = _object("fileIds tags", fileIds=_SOME_IDS, tags=_SOME_TAGS)
AI_TAGS = _object("fileIds AITags", fileIds=_SOME_IDS, AITags=_SOME_TAGS)
FOLDER_CREATE = _object("folderName parentFolderPath", folderName=_TEXT, parentFolderPath=_TEXT)
# Something besides separators and whitespace: the root folder cannot be deleted.
FOLDER_DELETE = _object(
    "folderPath",
    folderPath=Schema(
        type=OpenAPIType.STRING,
        all_of=[_TEXT, Schema(pattern=rf"[^{_SEPARATORS}{_SPACE}]")],
        description="Not the root folder.",
    ),
)
# The rules between a field's type and its other keys (which keys each type takes, defaults
# within bounds) are checked by the server.
_FIELD_SCHEMA = _object(
    "type",
    type=Schema(type=OpenAPIType.STRING, enum=list(FIELD_TYPES)),
    selectOptions=Schema(type=OpenAPIType.ARRAY, min_items=1),
    defaultValue=Schema(),
    isValueRequired=_BOOLEAN,
    minValue=Schema(one_of=[Schema(type=OpenAPIType.NUMBER), _STRING]),
    maxValue=Schema(one_of=[Schema(type=OpenAPIType.NUMBER), _STRING]),
    minLength=Schema(type=OpenAPIType.INTEGER, minimum=0),
    maxLength=Schema(type=OpenAPIType.INTEGER, minimum=0),
)
_FIELD_SCHEMA.additional_properties = False
_FIELD_SCHEMA_CHANGES = replace(_FIELD_SCHEMA, required=None)
FIELD_CREATE = _object("name label schema", name=_TEXT, label=_TEXT, schema=_FIELD_SCHEMA)
FIELD_UPDATE = _object("", label=_TEXT, schema=_FIELD_SCHEMA_CHANGES)
FIELD_UPDATE.any_of = [_object("label"), _object("schema")]

# --- query parameters ----------------------------------------------------------------------


def _query(name: str, schema: Schema, description: str) -> Parameter:
    return Parameter(
        name=name, param_in="query", required=False, schema=schema, description=description
    )


_SORTS = [f"{d}_{key}" for d in ("ASC", "DESC") for key in sorted(SORT_KEYS)]
LIST_ASSETS_QUERY = [
    _query("type", Schema(type=OpenAPIType.STRING, enum=["file", "file-version", "folder", "all"]),
           "What to list; `all` is files and folders."),
    _query("sort", Schema(type=OpenAPIType.STRING, enum=_SORTS), "Order of the results."),
    _query("path", _STRING, "Only assets directly in this folder."),
    _query("searchQuery", _STRING, "ImageKit's search language, e.g. `size > 1mb`."),
    _query("fileType", Schema(type=OpenAPIType.STRING, enum=["all", "image", "non-image"]), ""),
    _query("tags", _STRING, "Comma-separated; ignored with searchQuery."),
    _query("name", _STRING, "Exact file name; ignored with searchQuery."),
    _query("limit", Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=1000), ""),
    _query("skip", Schema(type=OpenAPIType.INTEGER, minimum=0), ""),
]  # fmt: skip
LIST_FIELDS_QUERY = [
    _query("includeDeleted", _BOOLEAN, "Also list deleted fields."),
]


def accepts(query: Sequence[Parameter]) -> dict[str, frozenset[str]]:
    """The route option that tells `reject_unknown_query` which parameters a route takes."""
    return {QUERY_OPT: frozenset(p.name for p in query)}


# --- operations ----------------------------------------------------------------------------

# What any management route may answer besides success: bad input, no or wrong key, a missing
# asset (also unknown routes), a write that lost a race, and storage that is down.
_ERRORS = {
    400: "The request is invalid.",
    401: "No API key, or not a key this server knows.",
    403: "The key is not allowed to do this.",
    404: "The file, version, folder or route does not exist.",
    409: "A concurrent write won; the request may be retried.",
    503: "Storage is unavailable; retry later.",
}


# Beyond ImageKit (issue 13): conditional writes and idempotent retries, as request headers.
_IF_MATCH = Parameter(
    name="If-Match",
    param_in="header",
    required=False,
    # Two branches, not one pattern: schemathesis then sees that a quoted id needs characters
    # beyond its header alphabet and stops drawing values such as `0` for it.
    schema=Schema(
        one_of=[
            Schema(type=OpenAPIType.STRING, enum=["*"]),
            Schema(type=OpenAPIType.STRING, pattern=r'^"[0-9a-fA-F]{24}"$'),
        ]
    ),
    description='Change the file only if its current version is this one: `"<versionId>"` '
    "(the ETag of a read), or `*` for any. Otherwise 412 and nothing changes.",
)
_IF_NONE_MATCH = Parameter(
    name="If-None-Match",
    param_in="header",
    required=False,
    schema=Schema(type=OpenAPIType.STRING, enum=["*"]),
    description="`*`: create only; 412 if a file exists at the path.",
)
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    # Printable ASCII; no outer spaces, which HTTP strips from a header's value.
    schema=Schema(type=OpenAPIType.STRING, pattern=r"^[!-~](?:[ -~]{0,253}[!-~])?$"),
    description="A retry with the same key and request gets the first answer again "
    "(`Idempotent-Replayed: true`) and changes nothing; with another request, 422.",
)
_ETAG: dict[str, OpenAPIHeader | Reference] = {
    "ETag": OpenAPIHeader(schema=_STRING, description='`"<current versionId>"`')
}
_PRECONDITION_ERRORS = {412: "If-Match or If-None-Match does not hold; nothing changed."}
_IDEMPOTENCY_ERRORS = {
    409: "A concurrent write won, or the first request with this Idempotency-Key still runs; "
    "the request may be retried.",
    422: "This Idempotency-Key was used with a different request.",
}


def _json(schema: Schema) -> dict[str, OpenAPIMediaType]:
    return {"application/json": OpenAPIMediaType(schema=schema)}


def _error_response(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(description=description, content=_json(ERROR))


def documented(
    responses: Mapping[int, tuple[str, Schema | None]],
    body: Schema | None = None,
    media_type: str = "application/json",
    query: Sequence[Parameter] = (),
    errors: Mapping[int, str] | None = None,
    *,
    etag: bool = False,
    if_match: bool = False,
    if_none_match: bool = False,
    idempotent: bool = False,
) -> type[Operation]:
    """An Operation class for a route: its success responses, body, query and errors; the
    flags add the ETag of success responses and the headers of issue 13 the route takes."""
    all_errors = {**_ERRORS, **(errors or {})}
    headers: list[Parameter] = []
    if if_match:
        headers.append(_IF_MATCH)
    if if_none_match:
        headers.append(_IF_NONE_MATCH)
    if if_match or if_none_match:
        all_errors.update(_PRECONDITION_ERRORS)
    if idempotent:
        headers.append(_IDEMPOTENCY_KEY)
        all_errors.update(_IDEMPOTENCY_ERRORS)

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            described: dict[str, OpenAPIResponse | Any] = {}
            for status, (description, schema) in responses.items():
                described[str(status)] = OpenAPIResponse(
                    description=description,
                    content=_json(schema) if schema else None,
                    headers=_ETAG if etag and status < 300 else None,
                )
            for status, description in all_errors.items():
                described[str(status)] = _error_response(description)
            self.responses = described
            if body is not None:
                self.request_body = RequestBody(
                    content={media_type: OpenAPIMediaType(schema=body)}, required=True
                )
            # Ids are ObjectIds; anything else is a 400 before any lookup.
            params = [
                replace(p, schema=_OBJECT_ID) if isinstance(p, Parameter) and p.param_in == "path"
                else p
                for p in self.parameters or []
            ]  # fmt: skip
            self.parameters = [*params, *query, *headers] or None

    return DocumentedOperation


SECURITY: list[dict[str, list[str]]] = [{"basicAuth": []}]
COMPONENTS = Components(
    security_schemes={
        "basicAuth": SecurityScheme(
            type="http",
            scheme="basic",
            description="The private key as the user name, with an empty password.",
        )
    }
)


# A subset of valid transformations, for generators: up to 16 steps of one parameter each
# (two of one key in a step would be refused), empty steps and separators allowed.
_STEP = (
    r"(?:[wh]-[1-9][0-9]{0,3}|rt-(?:90|180|270)|fl-[hv]|e-grayscale|bl-[1-9]|q-[1-9][0-9]?"
    r"|f-(?:auto|jpg|png|webp|avif)|n-ik_ml_thumbnail|orig-true)"
)
_TRANSFORMATION = rf"^[:,]*(?:{_STEP}(?::[:,]*{_STEP}){{0,15}})?[:,]*$"


def delivery_path_item() -> PathItem:
    """Delivery is a raw ASGI mount, invisible to Litestar's generator: described here."""
    path = Parameter(
        name="filePath",
        param_in="path",
        required=True,
        # Control characters are never part of a stored name.
        schema=Schema(type=OpenAPIType.STRING, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"),
        description="The file's path; `/v/{versionId}/...` or `?ik-obj-version=` for a version.",
    )
    query = [
        _query("ik-obj-version", _STRING, "Deliver this version instead of the current one."),
        _query("ik-s", _STRING, "Signature of a private file's URL."),
        _query("ik-t", _STRING, "Expiry (Unix seconds) of a signed URL."),
        _query(
            "tr",
            Schema(type=OpenAPIType.STRING, pattern=_TRANSFORMATION),
            "ImageKit's transformation (`w-300,h-200:rt-90`), also accepted as a path segment "
            "`/tr:<transformation>/` before the file path (both: the path's steps first). The "
            "pattern is a valid subset; every parameter of docs/decisions.md is accepted, and "
            "anything the server cannot apply is a 400 with an `ik-error` header.",
        ),
    ]
    ok = OpenAPIResponse(
        description="The bytes, or the rendition of `tr`; honours Range, If-None-Match and "
        "If-Modified-Since. `Vary: Accept` when the format was chosen from Accept (f-auto).",
        content={
            "*/*": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            )
        },
        headers={"ETag": OpenAPIHeader(schema=_STRING)},
    )
    responses: dict[str, OpenAPIResponse | Any] = {
        "200": ok,
        "206": OpenAPIResponse(description="The requested range."),
        "304": OpenAPIResponse(description="Not modified."),
        "400": OpenAPIResponse(
            description="`Bad Image Transformation Request`: a transformation that cannot be "
            "applied (unknown or unsupported parameter, invalid value, unknown named "
            "transformation, over the size limits); the `ik-error` header says what "
            "(`EINVALID - ...`, `ELIMIT - ...`).",
            content=_json(ERROR),
            headers={"ik-error": OpenAPIHeader(schema=_STRING)},
        ),
        "401": _error_response("A private file without a valid signature."),
        "404": _error_response("No such file or version, or it is unpublished."),
        "416": OpenAPIResponse(description="The range is outside the file."),
        "500": _error_response("The version's bytes are missing from the blob store."),
        "503": _error_response("The blob store cannot be reached."),
    }

    def operation(operation_id: str, summary: str) -> Operation:
        return Operation(
            operation_id=operation_id,
            tags=["delivery"],
            summary=summary,
            parameters=[path, *query],
            responses=responses,
            security=[],
        )

    return PathItem(
        get=operation("DeliverFile", "Deliver a file's or a version's bytes"),
        head=operation("DeliverFileHead", "A file's headers, without the bytes"),
    )


# --- beyond ImageKit: retention policies, pins, compare ----------------------------------

_DAYS = Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_DAYS)
_THIN_RULE = _object(
    "olderThanDays keepOnePer",
    olderThanDays=Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_DAYS),
    keepOnePer=Schema(type=OpenAPIType.STRING, enum=list(PERIODS)),
)
_THIN_RULE.additional_properties = False
_THIN = Schema(type=OpenAPIType.ARRAY, items=_THIN_RULE, min_items=1, max_items=MAX_THIN_RULES)
_RULES = {
    "keepLast": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_KEEP_LAST),
    "keepDays": _DAYS,
    "thin": _THIN,
}
RETENTION_POLICY_CREATE = _object(
    "folderPath",
    folderPath=Schema(
        type=OpenAPIType.STRING,
        pattern=_path_pieces(nul=r"\u0000"),
        description="The folder, e.g. `/a/b/`; the policy covers every folder below it that "
        "has no policy of its own.",
    ),
    **_RULES,
)
RETENTION_POLICY_CREATE.additional_properties = False
RETENTION_POLICY_CREATE.any_of = [_object(name) for name in _RULES]
RETENTION_POLICY_CREATE.description = (
    "At least one rule; a version is kept if any rule keeps it (docs/decisions.md)."
)
RETENTION_POLICY = _object(
    "id folderPath createdAt updatedAt",
    id=_STRING,
    folderPath=_STRING,
    **_RULES,
    createdAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    updatedAt=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
)
RETENTION_POLICY_LIST = Schema(type=OpenAPIType.ARRAY, items=RETENTION_POLICY)
RETENTION_PREVIEW = _object(
    "wouldDelete bytesFreed",
    wouldDelete=Schema(
        type=OpenAPIType.ARRAY,
        items=_object(
            "fileId versionId versionName reason",
            fileId=_STRING,
            versionId=_STRING,
            versionName=_STRING,
            reason=_STRING,
        ),
    ),
    bytesFreed=Schema(type=OpenAPIType.INTEGER, minimum=0),
)

# The File object with `pinned`, for the version reads that are asked for it.
FILE_WITH_PIN = replace(FILE, properties={**(FILE.properties or {}), "pinned": _BOOLEAN})
FILE_WITH_PIN_LIST = Schema(type=OpenAPIType.ARRAY, items=FILE_WITH_PIN)
INCLUDE_QUERY = [
    _query(
        "include",
        Schema(type=OpenAPIType.STRING, enum=["pinned"]),
        "`pinned` adds `pinned: true|false` to each File object (not an ImageKit field).",
    )
]

_SIZE = _object("width height", width=_INTEGER, height=_INTEGER)
_CHANGE = _object("from to", **{"from": Schema(), "to": Schema()})
COMPARISON = _object(
    "sameContent changed image",
    sameContent=_BOOLEAN,
    changed=Schema(
        type=OpenAPIType.OBJECT,
        additional_properties=_CHANGE,
        description="The File object's fields that differ, e.g. `size`, `tags`.",
    ),
    image=_nullable(
        _object(
            "from to changedPixelRatio meanAbsoluteDifference perceptualHashDistance",
            **{"from": _SIZE, "to": _SIZE},
            changedPixelRatio=Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1),
            meanAbsoluteDifference=Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1),
            perceptualHashDistance=Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=64),
        )
    ),
)
COMPARE_QUERY = [
    _query(
        "heatmap",
        _BOOLEAN_TEXT,
        "`true`: answer a PNG difference image instead (both versions must be images).",
    )
]


def with_png(operation_class: type[Operation], status: int = 200) -> type[Operation]:
    """The operation, with an `image/png` answer beside the JSON one of `status`."""

    @dataclass
    class WithPng(operation_class):  # type: ignore[valid-type,misc]  # a class made at runtime
        def __post_init__(self) -> None:
            super().__post_init__()
            response = (self.responses or {})[str(status)]
            assert isinstance(response, OpenAPIResponse) and response.content is not None
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            response.content["image/png"] = OpenAPIMediaType(schema=binary)

    return WithPng


# --- beyond ImageKit: history, trash, storage accounting (issue 13) --------------------------

_CURSOR = Schema(type=OpenAPIType.STRING, pattern=r"^[1-9][0-9]{0,17}$")
_LIMIT = Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=1000)
_SKIP = Schema(type=OpenAPIType.INTEGER, minimum=0)
_EVENT_TYPES = [
    "file.created", "file-version.created", "file-version.restored", "file-version.deleted",
    "file.updated", "file.moved", "file.renamed", "file.copied", "file.deleted",
    "file.trashed", "file.untrashed", "retention.applied",
]  # fmt: skip
FILE_EVENT = _object(
    "id type at versionId details",
    id=_STRING,
    type=Schema(type=OpenAPIType.STRING, enum=_EVENT_TYPES),
    at=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
    versionId=_nullable(_STRING),
    details=_OBJECT,
)
HISTORY = _object(
    "events next",
    events=Schema(type=OpenAPIType.ARRAY, items=FILE_EVENT),
    next=_nullable(_STRING),
)
HISTORY_QUERY = [
    _query("limit", _LIMIT, "Events per page (default 100)."),
    _query("after", _CURSOR, "The `next` of the previous page."),
]
TRASHED_FILE = replace(
    FILE,
    required=[*(FILE.required or []), "deletedAt", "versionCount"],
    properties={
        **(FILE.properties or {}),
        "deletedAt": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
        "versionCount": Schema(type=OpenAPIType.INTEGER, minimum=1),
    },
    description="A file in the trash: its current version's File object, when it was deleted.",
)
TRASH_LIST = Schema(type=OpenAPIType.ARRAY, items=TRASHED_FILE)
TRASH_QUERY = [
    _query("path", _FOLDER, "Only files that were under this folder."),
    _query("skip", _SKIP, ""),
    _query("limit", _LIMIT, "Default 1000."),
]
TRASH_RESTORE = _object("", filePath=_FILE_PATH)
_BYTES = Schema(type=OpenAPIType.INTEGER, minimum=0)
STORAGE_USAGE = _object(
    "files versions currentBytes versionBytes trashBytes physicalBytes",
    files=_BYTES,
    versions=_BYTES,
    currentBytes=_BYTES,
    versionBytes=_BYTES,
    trashBytes=_BYTES,
    physicalBytes=_BYTES,
)
STORAGE_QUERY = [_query("path", _FOLDER, "A folder: the figures of everything under it.")]

# -- Folder bulk jobs, cache purge, account usage (issue 15, sections 2 and 4) ---------------

BULK_JOB_ID = _object("jobId", jobId=_OBJECT_ID)
BULK_JOB = _object(
    "jobId type status",
    jobId=_OBJECT_ID,
    type=Schema(type=OpenAPIType.STRING, enum=["COPY_FOLDER", "MOVE_FOLDER", "RENAME_FOLDER"]),
    status=Schema(type=OpenAPIType.STRING, enum=["Pending", "Completed"]),
    purgeRequestId=_OBJECT_ID,
)
COPY_FOLDER = _object(
    "sourceFolderPath destinationPath",
    sourceFolderPath=_TEXT,
    destinationPath=_TEXT,
    includeVersions=_OPTION,
    includeFileVersions=_OPTION,
)
MOVE_FOLDER = _object(
    "sourceFolderPath destinationPath", sourceFolderPath=_TEXT, destinationPath=_TEXT
)
RENAME_FOLDER = _object(
    "folderPath newFolderName", folderPath=_TEXT, newFolderName=_TEXT, purgeCache=_OPTION
)
PURGE = _object("url", url=_STRING)
PURGE_CREATED = _object("requestId", requestId=_OBJECT_ID)
PURGE_STATUS = _object(
    "status", status=Schema(type=OpenAPIType.STRING, enum=["Pending", "Completed"])
)
_DAY = Schema(type=OpenAPIType.STRING, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")
ACCOUNT_USAGE = _object(
    "bandwidthBytes mediaLibraryStorageBytes videoProcessingUnitsCount extensionUnitsCount "
    "originalCacheStorageBytes",
    bandwidthBytes=_BYTES,
    mediaLibraryStorageBytes=_BYTES,
    videoProcessingUnitsCount=_BYTES,
    extensionUnitsCount=_BYTES,
    originalCacheStorageBytes=_BYTES,
)
ACCOUNT_USAGE_QUERY = [
    replace(_query("startDate", _DAY, "The first day counted (UTC)."), required=True),
    replace(_query("endDate", _DAY, "The day after the last one counted; at most 90 days on."),
            required=True),
]  # fmt: skip

# -- File metadata (issue 15, section 3) ----------------------------------------------------

_EXIF_GROUP = Schema(type=OpenAPIType.OBJECT, description="Raw EXIF values by ExifTool tag name.")
METADATA = _object(
    "size",
    height=_INTEGER,
    width=_INTEGER,
    size=_INTEGER,
    format=Schema(type=OpenAPIType.STRING, description="`jpg`, `png`, `webp`, `mp4`, ..."),
    hasColorProfile=_BOOLEAN,
    quality=Schema(
        type=OpenAPIType.INTEGER,
        description="A JPEG's estimated quality (from its quantization tables); else 0.",
    ),
    density=_INTEGER,
    hasTransparency=_BOOLEAN,
    pHash=Schema(type=OpenAPIType.STRING, pattern="^[0-9a-f]{16}$"),
    exif=_object(
        "",
        image=_EXIF_GROUP,
        thumbnail=_EXIF_GROUP,
        exif=_EXIF_GROUP,
        gps=_EXIF_GROUP,
        interoperability=_EXIF_GROUP,
        makernote=_EXIF_GROUP,
    ),
    bitRate=_INTEGER,
    duration=_INTEGER,
    videoCodec=_STRING,
    audioCodec=_STRING,
)
METADATA.description = "What a file's bytes say: dimensions, format, EXIF, pHash, video facts."
METADATA_QUERY = [
    Parameter(
        name="url",
        param_in="query",
        required=True,
        schema=Schema(type=OpenAPIType.STRING, min_length=1),
        description="The file's URL: one of this server's delivery URLs, or any public URL.",
    )
]
