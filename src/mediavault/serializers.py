"""The one place that turns records into ImageKit JSON: the File object and upload response."""

from __future__ import annotations

from typing import Any

from mediavault.domain.models import FileVersion, Folder
from mediavault.domain.times import iso
from mediavault.urls import UrlBuilder

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


def file_object(item: FileVersion, urls: UrlBuilder) -> dict[str, Any]:
    """A version as the File object (spec §2.1), keys in the order ImageKit's samples use."""
    file, version = item.file, item.version
    content, meta = version.content, version.metadata
    body: dict[str, Any] = {
        "type": "file" if version.is_current else "file-version",
        "name": file.name,
        "createdAt": iso(item.created_at),
        "updatedAt": iso(item.updated_at),
        "fileId": file.id,
        "tags": meta.tags,
        "AITags": meta.ai_tags,
        "versionInfo": {"id": version.id, "name": version.name},
        "embeddedMetadata": None,
        "isPublished": meta.is_published,
        "customCoordinates": meta.custom_coordinates,
        "customMetadata": meta.custom_metadata or {},
        "isPrivateFile": meta.is_private_file,
        "url": urls.url(item),
        "thumbnail": urls.thumbnail(item),
        "fileType": content.file_type,
        "filePath": file.file_path,
    }
    if content.height is not None:
        body["height"] = content.height
    if content.width is not None:
        body["width"] = content.width
    body["size"] = content.size
    if content.has_alpha is not None:
        body["hasAlpha"] = content.has_alpha
    body["mime"] = content.mime
    if meta.description is not None:
        body["description"] = meta.description
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
        "embeddedMetadata": None,
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
    return metadata


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
