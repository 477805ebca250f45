"""What the console's templates show: records turned into small, ready-to-print values.

Media URLs here are paths on this server (the delivery prefix), not the public URL endpoint:
the console's thumbnails and previews must load from the same origin it was opened on, CDN
or not. Private files and unpublished versions get signed URLs that expire at the end of the
next full hour, so the same URL (and the browser's cached copy) serves every page view within
the hour.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from mediavault.domain.models import FileVersion, Folder
from mediavault.domain.signing import sign
from mediavault.urls import UrlBuilder

SORTS = {
    "DESC_CREATED": "Newest first",
    "ASC_CREATED": "Oldest first",
    "ASC_NAME": "Name, A to Z",
    "DESC_NAME": "Name, Z to A",
    "DESC_SIZE": "Largest first",
    "ASC_SIZE": "Smallest first",
}
DEFAULT_SORT = "DESC_CREATED"
_UNITS = ("bytes", "KB", "MB", "GB", "TB")


class MediaUrls:
    """Same-origin URLs of versions and their thumbnails, signed for private files."""

    def __init__(self, delivery_prefix: str, private_key: str, now: float) -> None:
        self._prefix = delivery_prefix.rstrip("/")
        self._builder = UrlBuilder(self._prefix)
        self._private_key = private_key
        self._expires = str((int(now) // 3600 + 2) * 3600)

    def url(self, item: FileVersion) -> str:
        return self._signed(item, self._builder.url(item))

    def thumbnail(self, item: FileVersion) -> str:
        return self._signed(item, self._builder.thumbnail(item))

    def _signed(self, item: FileVersion, url: str) -> str:
        metadata = item.version.metadata
        # Unpublished versions, like private files, are delivered to signed URLs only.
        if not metadata.is_private_file and metadata.is_published:
            return url
        # What the delivery route checks: the URL after the prefix, then the expiry.
        relative = url[len(self._prefix) + 1 :]
        signature = sign(self._private_key, relative, self._expires)
        return f"{url}&ik-t={self._expires}&ik-s={signature}"


@dataclass(frozen=True)
class Crumb:
    name: str
    path: str


def breadcrumbs(folder_path: str) -> list[Crumb]:
    """`/a/b/` -> Library (/), a (/a/), b (/a/b/)."""
    crumbs = [Crumb("Library", "/")]
    path = "/"
    for part in folder_path.strip("/").split("/"):
        if part:
            path += part + "/"
            crumbs.append(Crumb(part, path))
    return crumbs


def human_size(size: int) -> str:
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def dimensions(item: FileVersion) -> str | None:
    content = item.version.content
    if content.width and content.height:
        return f"{content.width} x {content.height}"
    return None


def preview_kind(item: FileVersion) -> str:
    """How the file page shows a version: image, video, audio, pdf or other (an icon)."""
    mime = item.version.content.mime
    if item.version.content.file_type == "image" or mime.startswith("image/"):
        return "image"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    if mime == "application/pdf":
        return "pdf"
    return "other"


def grid_item(item: FileVersion | Folder, urls: MediaUrls, counts: dict[str, int]) -> Any:
    if isinstance(item, Folder):
        return {"kind": "folder", "name": item.name, "path": item.folder_path}
    return {
        "kind": "file",
        "id": item.file.id,
        "name": item.file.name,
        "size": human_size(item.version.content.size),
        "versions": counts.get(item.file.id, 1),
        "thumbnail": urls.thumbnail(item) if preview_kind(item) == "image" else None,
        "private": item.version.metadata.is_private_file,
    }


def version_item(item: FileVersion, urls: MediaUrls, pinned: set[str]) -> dict[str, Any]:
    version = item.version
    return {
        "id": version.id,
        "number": version.number,
        "name": version.name,
        "current": version.is_current,
        "pinned": version.id in pinned,
        "size": human_size(version.content.size),
        "dimensions": dimensions(item),
        "mime": version.content.mime,
        "created": when(version.created_at),
        "updated": when(item.updated_at),
        "url": urls.url(item),
        "thumbnail": urls.thumbnail(item) if preview_kind(item) == "image" else None,
    }
