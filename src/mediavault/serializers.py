"""The one place that turns records into ImageKit JSON: the File object and upload response."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct

from mediavault.domain.models import ContentInfo, File, FileVersion, Folder, JsonObject
from mediavault.domain.retention import Policy, rules_json
from mediavault.domain.times import iso
from mediavault.storage.bulk_job_queries import BulkJob
from mediavault.storage.lookups import LISTED_COLUMNS, VersionList
from mediavault.urls import UrlBuilder

if TYPE_CHECKING:
    from mediavault.services.compare import Comparison
    from mediavault.services.retention import Removal
    from mediavault.services.usage import StorageUsage
    from mediavault.storage.history_queries import FileEvent
    from mediavault.storage.trash_queries import TrashedFile

_CAMEL = {
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "file_id": "fileId",
    "ai_tags": "AITags",
    "version_info": "versionInfo",
    "embedded_metadata": "embeddedMetadata",
    "is_published": "isPublished",
    "custom_coordinates": "customCoordinates",
    "custom_metadata": "customMetadata",
    "is_private_file": "isPrivateFile",
    "file_type": "fileType",
    "file_path": "filePath",
    "has_alpha": "hasAlpha",
    "bit_rate": "bitRate",
    "video_codec": "videoCodec",
    "audio_codec": "audioCodec",
}
UPLOAD_RESPONSE_FIELDS = frozenset(
    {
        "tags",
        "customCoordinates",
        "isPrivateFile",
        "embeddedMetadata",
        "isPublished",
        "customMetadata",
        "metadata",
        "selectedFieldsSchema",
    }
)


class VersionInfo(Struct):
    id: str
    name: str


class FileObject(Struct, omit_defaults=True, rename=_CAMEL):
    """The File object (spec §2.1). Encoded by msgspec in C and built with positional
    arguments, also in C (keyword arguments cost five times as much), because a list of 100
    versions builds 100 of them: a dict per version cost more than the list's query (profiled).
    The fields with a default (None) are left out when None; every other one is always there.
    """

    type: str
    name: str
    created_at: str
    updated_at: str
    file_id: str
    tags: list[str] | None
    ai_tags: list[JsonObject] | None
    version_info: VersionInfo
    embedded_metadata: JsonObject | None
    is_published: bool
    custom_coordinates: str | None
    custom_metadata: JsonObject
    is_private_file: bool
    url: str
    thumbnail: str
    file_type: str
    file_path: str
    size: int
    mime: str
    height: int | None = None
    width: int | None = None
    has_alpha: bool | None = None
    description: str | None = None
    duration: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None


def file_struct(item: FileVersion, urls: UrlBuilder) -> FileObject:
    """A version as the File object, ready for a msgspec encoder."""
    file, version = item.file, item.version
    content, meta = version.content, version.metadata
    return _file_object(
        file, file.file_path, urls.base(file.file_path),
        version.id, version.number, content.size, content.mime, content.file_type,
        content.width, content.height, content.has_alpha, content.embedded_metadata,
        content.duration, content.video_codec, content.audio_codec, content.bit_rate,
        meta.tags, meta.ai_tags,
        meta.custom_metadata, meta.custom_coordinates, meta.description, meta.is_private_file,
        meta.is_published, version.token, version.is_current, version.created_at,
        version.updated_at,
    )  # fmt: skip


def version_list(found: VersionList, urls: UrlBuilder) -> list[FileObject]:
    """A file's versions as File objects, from the rows of Lookups.version_list: the same
    objects as file_struct of each version's record, without building the records."""
    file = found.file
    path = file.file_path
    base = urls.base(path)
    return [_file_object(file, path, base, *row[:_LISTED]) for row in found.rows]


_LISTED = len(LISTED_COLUMNS)


def _file_object(
    file: File, file_path: str, base: str,
    version_id: str, number: int, size: int, mime: str, file_type: str,
    width: int | None, height: int | None, has_alpha: bool | None,
    embedded_metadata: JsonObject | None, duration: int | None, video_codec: str | None,
    audio_codec: str | None, bit_rate: int | None,
    tags: list[str] | None, ai_tags: list[JsonObject] | None,
    custom_metadata: JsonObject | None, custom_coordinates: str | None,
    description: str | None, is_private_file: bool, is_published: bool,
    token: str, is_current: bool, created_at: int, updated_at: int,
) -> FileObject:  # fmt: skip
    """The one place that says what each field of the File object holds. Its parameters after
    `base` are a version's LISTED_COLUMNS, in their order (checked below)."""
    if is_current:
        # As FileVersion's: the current record carries the asset's birth and last change.
        created_at, updated_at = file.created_at, file.updated_at
    url, thumbnail = UrlBuilder.version_urls(base, is_current, token, updated_at)
    return FileObject(
        "file" if is_current else "file-version",  # type
        file.name,  # name
        iso(created_at),  # created_at
        iso(updated_at),  # updated_at
        file.id,  # file_id
        tags,  # tags
        ai_tags,  # ai_tags
        VersionInfo(version_id, f"Version {number}"),  # version_info
        embedded_metadata,  # embedded_metadata
        is_published,  # is_published
        custom_coordinates,  # custom_coordinates
        custom_metadata or {},  # custom_metadata
        is_private_file,  # is_private_file
        url,  # url
        thumbnail,  # thumbnail
        file_type,  # file_type
        file_path,  # file_path
        size,  # size
        mime,  # mime
        height,  # height
        width,  # width
        has_alpha,  # has_alpha
        description,  # description
        duration,  # duration
        video_codec,  # video_codec
        audio_codec,  # audio_codec
        bit_rate,  # bit_rate
    )


_PARAMETERS = tuple(inspect.signature(_file_object).parameters)[3:]
_COLUMNS = tuple("version_id" if name == "id" else name for name in LISTED_COLUMNS)
if _PARAMETERS != _COLUMNS:
    raise TypeError(f"_file_object's parameters {_PARAMETERS} are not LISTED_COLUMNS")


# msgspec's encoder with its defaults, as Litestar's own is for these values: the same bytes.
_JSON = msgspec.json.Encoder()


def file_json(item: FileVersion, urls: UrlBuilder) -> bytes:
    """The File object as JSON, for an answer put together from pieces (GET /v1/files)."""
    return _JSON.encode(file_struct(item, urls))


def folder_json(folder: Folder) -> bytes:
    return _JSON.encode(folder_object(folder))


def file_object(item: FileVersion, urls: UrlBuilder) -> dict[str, Any]:
    """The File object as a dict, for the callers that build JSON their own way (Litestar's
    routes, webhook payloads): the same FileObject, so the same keys and values."""
    body: dict[str, Any] = msgspec.to_builtins(file_struct(item, urls))
    return body


def upload_response(
    item: FileVersion, urls: UrlBuilder, response_fields: frozenset[str]
) -> dict[str, Any]:
    """The upload API's own shape (spec §5.7): not a File object."""
    file, version = item.file, item.version
    content, meta = version.content, version.metadata
    body: dict[str, Any] = {
        "fileId": file.id,
        "name": file.name,
        "size": content.size,
        "versionInfo": {"id": version.id, "name": version.name},
        "filePath": file.file_path,
        "url": urls.plain_url(item),
        "fileType": content.file_type,
    }
    if content.height is not None:
        body["height"] = content.height
    if content.width is not None:
        body["width"] = content.width
    body.update(video_fields(content))
    if content.file_type == "image":
        body["thumbnailUrl"] = urls.path_thumbnail(item)
    if meta.ai_tags:
        body["AITags"] = meta.ai_tags
    if meta.description is not None:
        body["description"] = meta.description
    optional: dict[str, Any] = {
        "tags": meta.tags,
        "customCoordinates": meta.custom_coordinates,
        "isPrivateFile": meta.is_private_file,
        "isPublished": meta.is_published,
        "customMetadata": meta.custom_metadata or {},
        "embeddedMetadata": content.embedded_metadata,
        "metadata": _legacy_metadata(item),
        "selectedFieldsSchema": {},
    }
    body.update({key: value for key, value in optional.items() if key in response_fields})
    return body


def _legacy_metadata(item: FileVersion) -> dict[str, Any]:
    content = item.version.content
    metadata: dict[str, Any] = {"size": content.size}
    if content.width is not None and content.height is not None:
        metadata.update(height=content.height, width=content.width)
    if content.file_type == "image":
        metadata["format"] = content.mime.rpartition("/")[2].removeprefix("x-")
        metadata["hasTransparency"] = bool(content.has_alpha)
    metadata.update(video_fields(content))
    return metadata


def video_fields(content: ContentInfo) -> dict[str, Any]:
    """A video's bitRate, duration, audioCodec and videoCodec, those that are known."""
    fields = {
        "bitRate": content.bit_rate,
        "duration": content.duration,
        "audioCodec": content.audio_codec,
        "videoCodec": content.video_codec,
    }
    return {key: value for key, value in fields.items() if value is not None}


def folder_object(folder: Folder) -> dict[str, Any]:
    """A folder as list results show it (spec §2.5)."""
    return {
        "type": "folder",
        "folderId": folder.id,
        "name": folder.name,
        "folderPath": folder.folder_path.rstrip("/"),
        "customMetadata": {},
        "createdAt": iso(folder.created_at),
        "updatedAt": iso(folder.updated_at),
    }


# -- Beyond ImageKit (issue 13): retention policies, previews, comparisons --------------------

# The File object's fields that describe a version's content and metadata: what compare reports.
COMPARED_FIELDS = (
    "size", "mime", "fileType", "width", "height", "hasAlpha", "tags", "AITags",
    "customMetadata", "customCoordinates", "description", "isPrivateFile", "isPublished",
)  # fmt: skip


def policy_object(policy: Policy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "folderPath": policy.folder_path,
        **rules_json(policy.rules),
        "createdAt": iso(policy.created_at),
        "updatedAt": iso(policy.updated_at),
    }


def retention_plan(removals: list[Removal], bytes_freed: int) -> dict[str, Any]:
    return {
        "wouldDelete": [
            {
                "fileId": r.version.file_id,
                "versionId": r.version.id,
                "versionName": r.version.name,
                "reason": r.reason,
            }
            for r in removals
        ],
        "bytesFreed": bytes_freed,
    }


def comparison_object(result: Comparison, urls: UrlBuilder) -> dict[str, Any]:
    before, after = file_object(result.before, urls), file_object(result.after, urls)
    changed = {
        name: {"from": before.get(name), "to": after.get(name)}
        for name in COMPARED_FIELDS
        if before.get(name) != after.get(name)
    }
    image = result.image
    return {
        "sameContent": result.same_content,
        "changed": changed,
        "image": None
        if image is None
        else {
            "from": {"width": image.from_size[0], "height": image.from_size[1]},
            "to": {"width": image.to_size[0], "height": image.to_size[1]},
            "changedPixelRatio": image.changed_pixel_ratio,
            "meanAbsoluteDifference": image.mean_absolute_difference,
            "perceptualHashDistance": image.perceptual_hash_distance,
        },
    }


def file_event_object(event: FileEvent) -> dict[str, Any]:
    """One entry of a file's history (GET /v1/files/{fileId}/history)."""
    return {
        "id": event.id,
        "type": event.type,
        "at": iso(event.at),
        "versionId": event.version_id,
        "details": event.details,
    }


def trashed_file_object(trashed: TrashedFile, urls: UrlBuilder) -> dict[str, Any]:
    """A file in the trash: the File object of its current version, and when it was deleted."""
    return {
        **file_object(trashed.item, urls),
        "deletedAt": iso(trashed.deleted_at),
        "versionCount": trashed.version_count,
    }


def storage_usage_object(usage: StorageUsage) -> dict[str, Any]:
    return {
        "files": usage.files,
        "versions": usage.versions,
        "currentBytes": usage.current_bytes,
        "versionBytes": usage.version_bytes,
        "trashBytes": usage.trash_bytes,
        "physicalBytes": usage.physical_bytes,
    }


def bulk_job_object(job: BulkJob) -> dict[str, Any]:
    """ImageKit's job object; `purgeRequestId` only for a rename sent with purgeCache."""
    found: dict[str, Any] = {"jobId": job.id, "type": job.type, "status": job.status}
    if job.purge_request_id is not None:
        found["purgeRequestId"] = job.purge_request_id
    return found
