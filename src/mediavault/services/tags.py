"""Bulk tag edits on the current versions of several files (200 / 207 / 404)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from msgspec.structs import replace

from mediavault.domain.ids import is_object_id
from mediavault.domain.models import VersionMetadata
from mediavault.errors import FilesNotFound, InvalidRequest
from mediavault.services.clock import now_ms
from mediavault.services.events import changed_fields
from mediavault.services.files import current
from mediavault.services.retry import retry_on_conflict
from mediavault.services.stores import Stores

MAX_FILES = 50
MAX_TAG_CHARS = 500


@dataclass
class BulkResult:
    updated: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def add_tags(stores: Stores, file_ids: list[str], tags: list[str]) -> BulkResult:
    _check_tags(tags, "tags")

    def edit(meta: VersionMetadata) -> VersionMetadata:
        return replace(meta, tags=list(dict.fromkeys([*(meta.tags or []), *tags])))

    return _edit_current_versions(stores, file_ids, edit)


def remove_tags(stores: Stores, file_ids: list[str], tags: list[str]) -> BulkResult:
    _check_tags(tags, "tags")
    drop = set(tags)

    def edit(meta: VersionMetadata) -> VersionMetadata:
        return replace(meta, tags=[t for t in meta.tags or [] if t not in drop] or None)

    return _edit_current_versions(stores, file_ids, edit)


def remove_ai_tags(stores: Stores, file_ids: list[str], ai_tags: list[str]) -> BulkResult:
    _check_tags(ai_tags, "AITags")
    drop = set(ai_tags)

    def edit(meta: VersionMetadata) -> VersionMetadata:
        kept = [t for t in meta.ai_tags or [] if t.get("name") not in drop]
        return replace(meta, ai_tags=kept or None)

    return _edit_current_versions(stores, file_ids, edit)


@retry_on_conflict
def _edit_current_versions(
    stores: Stores, file_ids: list[str], edit: Callable[[VersionMetadata], VersionMetadata]
) -> BulkResult:
    if not file_ids:
        raise InvalidRequest("fileIds is empty.")
    if len(file_ids) > MAX_FILES:
        raise InvalidRequest(f"A maximum of {MAX_FILES} files can be edited at a time.")
    wanted = list(dict.fromkeys(file_ids))
    result = BulkResult()
    with stores.meta.write() as tx:
        found = tx.existing_file_ids(i.lower() for i in wanted if is_object_id(i))
        missing = [i for i in wanted if not is_object_id(i) or i.lower() not in found]
        if missing:
            raise FilesNotFound(missing)
        now = now_ms()
        for file_id in wanted:
            version = tx.get_current_version(file_id.lower())
            assert version is not None
            changed = edit(version.metadata)
            if sum(len(t) for t in changed.tags or []) > MAX_TAG_CHARS:
                result.errors.append(
                    {
                        "fileId": file_id,
                        "error": f"The file would have more than {MAX_TAG_CHARS} "
                        "characters of tags.",
                    }
                )
                continue
            tx.update_version_metadata(version.id, changed, now)
            tx.update_file(file_id.lower(), updated_at=now)
            changes = changed_fields(version.metadata, changed)
            stores.events.file_updated(tx, current(tx, file_id.lower()), now, changes)
            result.updated.append(file_id)
    return result


def _check_tags(tags: list[str], name: str) -> None:
    if not tags:
        raise InvalidRequest(f"{name} array cannot be empty.")
    if name == "tags" and sum(len(t) for t in tags) > MAX_TAG_CHARS:
        raise InvalidRequest(
            "Your request contains invalid value for tags parameter. "
            f"Combined length of all tags should be less than or equal to {MAX_TAG_CHARS}."
        )
