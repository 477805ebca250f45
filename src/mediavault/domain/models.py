"""The records of the media library: a file and its versions, each version a full snapshot.

Frozen msgspec Structs rather than dataclasses: a list of 100 versions builds 400 of them per
request, and a Struct is built in C (profiled: frozen dataclass __init__ was a tenth of it).
Change one with `msgspec.structs.replace`.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

JsonObject = dict[str, Any]


class File(Struct, frozen=True):
    """An asset at one path. Its versions hold the content; the file holds identity and path."""

    id: str
    name: str
    folder_path: str  # "/animals/" ; "/" for the root
    last_version_number: int
    created_at: int  # epoch milliseconds
    updated_at: int

    @property
    def file_path(self) -> str:
        return self.folder_path + self.name


class ContentInfo(Struct, frozen=True):
    """What was learned from the stored bytes themselves, never from the client."""

    digest: str  # sha256 hex
    size: int
    mime: str
    file_type: str  # "image" | "non-image"
    width: int | None = None
    height: int | None = None
    has_alpha: bool | None = None
    embedded_metadata: JsonObject | None = None  # EXIF/IPTC of a picture (media/metadata.py)
    duration: int | None = None  # videos (media/video.py): whole seconds
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None  # bits per second


class VersionMetadata(Struct, frozen=True):
    """The user-editable part of a version's snapshot."""

    tags: list[str] | None = None
    ai_tags: list[JsonObject] | None = None
    custom_metadata: JsonObject | None = None
    custom_coordinates: str | None = None
    description: str | None = None
    is_private_file: bool = False
    is_published: bool = True


class Version(Struct, frozen=True):
    id: str
    file_id: str
    number: int
    content: ContentInfo
    metadata: VersionMetadata
    token: str  # the ik-obj-version URL token
    is_current: bool
    created_at: int
    updated_at: int

    @property
    def name(self) -> str:
        return f"Version {self.number}"


class FileVersion(Struct, frozen=True):
    """A version seen through its file: what the File object of the API describes."""

    file: File
    version: Version

    @property
    def created_at(self) -> int:
        # The current record carries the asset's birth; an older version, when it was archived.
        return self.file.created_at if self.version.is_current else self.version.created_at

    @property
    def updated_at(self) -> int:
        return self.file.updated_at if self.version.is_current else self.version.updated_at


class Delivered(Struct, frozen=True):
    """What a delivery URL needs of the version it names, and no more: the hottest route reads
    these ten values instead of a whole FileVersion (its JSON columns are most of a lookup's
    cost: storage/lookups.DELIVERED_AT_PATH)."""

    file_id: str
    version_id: str
    digest: str
    size: int
    mime: str
    file_type: str
    video_codec: str | None
    is_private_file: bool
    is_published: bool
    updated_at: int  # when the URL's version last changed: FileVersion.updated_at
    revision: int  # the file's (migration 0010); -1 when made from a record, which has none


def delivered(item: FileVersion) -> Delivered:
    """The same values from a whole record (file metadata by URL reads one)."""
    version, content = item.version, item.version.content
    return Delivered(
        item.file.id,
        version.id,
        content.digest,
        content.size,
        content.mime,
        content.file_type,
        content.video_codec,
        version.metadata.is_private_file,
        version.metadata.is_published,
        item.updated_at,
        -1,
    )


class Folder(Struct, frozen=True):
    id: str
    folder_path: str  # "/a/b/"
    name: str
    created_at: int
    updated_at: int

    @property
    def parent_path(self) -> str:
        return self.folder_path[: len(self.folder_path) - len(self.name) - 1]


class CustomMetadataField(Struct, frozen=True):
    id: str
    name: str
    label: str
    schema: JsonObject
    is_deleted: bool = False
