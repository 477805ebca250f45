"""The versioning rules of ImageKit, as pure functions (spec §3 and §5.5)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from msgspec.structs import replace

from mediavault.domain.models import File, JsonObject, Version, VersionMetadata
from mediavault.errors import CannotDeleteCurrentVersion, FileAlreadyExists, VersionLimitReached


@dataclass(frozen=True)
class UploadOptions:
    """The upload form's metadata fields, already parsed. None means "not sent"."""

    tags: list[str] | None = None
    custom_metadata: JsonObject | None = None
    custom_coordinates: str | None = None
    description: str | None = None
    is_private_file: bool = False
    is_published: bool = True
    use_unique_file_name: bool = True
    overwrite_file: bool = True
    overwrite_tags: bool = True
    overwrite_custom_metadata: bool = True
    overwrite_ai_tags: bool = True


def ensure_may_overwrite(options: UploadOptions) -> None:
    if not options.overwrite_file:
        raise FileAlreadyExists()


def ensure_room_for_version(
    version_count: int, limit: int, incoming: int = 1, *, reason: str | None = None
) -> None:
    """ImageKit's limit of versions per file, the current one included (spec §3.6), for every
    way versions arrive: an upload adds one, a copy or move onto a same-named file appends a
    whole history. Nothing is pruned to make room.

    The message is the same everywhere; copy and move give each of their errors a `reason`
    (ImageKit documents one on those endpoints), uploads give none.
    """
    if version_count + incoming > limit:
        raise VersionLimitReached(f"A file can have a maximum of {limit} versions.", reason=reason)


def ensure_deletable(version: Version) -> None:
    """The current version is what the file is: it goes only with the whole file."""
    if version.is_current:
        raise CannotDeleteCurrentVersion()


def next_version_number(file: File) -> int:
    """Numbers come from a per-file counter, so a deleted version's number is never reused."""
    return file.last_version_number + 1


def metadata_for_upload(options: UploadOptions, previous: Version | None) -> VersionMetadata:
    """The snapshot of a new version: request values win; otherwise the overwrite flags decide.

    Tags and custom metadata not sent are dropped (overwrite*=true, the default) or carried over
    from the current version (false). AI tags are dropped unless overwriteAITags=false.
    Coordinates not sent are removed. Description and the private/published flags take the
    request's value or its default.
    """
    tags = options.tags
    custom_metadata = options.custom_metadata
    ai_tags = None
    if previous is not None:
        if tags is None and not options.overwrite_tags:
            tags = previous.metadata.tags
        if custom_metadata is None and not options.overwrite_custom_metadata:
            custom_metadata = previous.metadata.custom_metadata
        if not options.overwrite_ai_tags:
            ai_tags = previous.metadata.ai_tags
    return VersionMetadata(
        tags=tags or None,
        ai_tags=ai_tags or None,
        custom_metadata=custom_metadata or {},
        custom_coordinates=options.custom_coordinates or None,
        description=options.description,
        is_private_file=options.is_private_file,
        is_published=options.is_published,
    )


class Unset(enum.Enum):
    """A field absent from a PATCH body, as opposed to one sent as null."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class DetailsUpdate:
    tags: list[str] | Unset | None = UNSET
    remove_ai_tags: list[str] | Literal["all"] | Unset = UNSET
    custom_coordinates: str | Unset | None = UNSET
    custom_metadata: JsonObject | Unset = UNSET
    description: str | Unset = UNSET


@dataclass(frozen=True)
class PublishUpdate:
    is_published: bool
    include_file_versions: bool = False


def apply_details(metadata: VersionMetadata, update: DetailsUpdate) -> VersionMetadata:
    """The current version's snapshot after PATCH details. No new version is made."""
    changes: dict[str, object] = {}
    if update.tags is not UNSET:
        changes["tags"] = update.tags or None
    if update.remove_ai_tags is not UNSET:
        remaining = None
        if update.remove_ai_tags != "all" and metadata.ai_tags:
            drop = set(update.remove_ai_tags)
            remaining = [t for t in metadata.ai_tags if t.get("name") not in drop] or None
        changes["ai_tags"] = remaining
    if update.custom_coordinates is not UNSET:
        changes["custom_coordinates"] = update.custom_coordinates or None
    if update.custom_metadata is not UNSET:
        merged = dict(metadata.custom_metadata or {})
        for key, value in update.custom_metadata.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changes["custom_metadata"] = merged
    if update.description is not UNSET:
        changes["description"] = update.description
    return replace(metadata, **changes)
