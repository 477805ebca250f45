"""Rows to domain records, shared by every query module."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata


def file_from(row: Mapping[Any, Any], prefix: str = "") -> File:
    """`prefix`: where a join labelled the file's columns, e.g. `file_id` for `id`."""
    return File(
        id=row[f"{prefix}id"],
        name=row[f"{prefix}name"],
        folder_path=row[f"{prefix}folder_path"],
        last_version_number=row[f"{prefix}last_version_number"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
    )


def version_from(row: Mapping[Any, Any]) -> Version:
    return Version(
        id=row["id"],
        file_id=row["file_id"],
        number=row["number"],
        content=ContentInfo(
            digest=row["blob_digest"],
            size=row["size"],
            mime=row["mime"],
            file_type=row["file_type"],
            width=row["width"],
            height=row["height"],
            has_alpha=row["has_alpha"],
            embedded_metadata=row["embedded_metadata"],
            duration=row["duration"],
            video_codec=row["video_codec"],
            audio_codec=row["audio_codec"],
            bit_rate=row["bit_rate"],
        ),
        metadata=VersionMetadata(
            tags=row["tags"],
            ai_tags=row["ai_tags"],
            custom_metadata=row["custom_metadata"] or {},
            custom_coordinates=row["custom_coordinates"],
            description=row["description"],
            is_private_file=row["is_private_file"],
            is_published=row["is_published"],
        ),
        token=row["token"],
        is_current=row["is_current"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def tag_rows(version_id: str, metadata: VersionMetadata) -> list[dict[str, str]]:
    """The version_tags rows of a version: derived from its tags and AI tags."""
    rows = [{"version_id": version_id, "source": "user", "tag": t} for t in metadata.tags or []]
    ai_names = {t["name"] for t in metadata.ai_tags or [] if isinstance(t.get("name"), str)}
    rows += [{"version_id": version_id, "source": "ai", "tag": t} for t in sorted(ai_names)]
    return rows


# The custom metadata fields that have rows (and that a search reads them for): names of
# letters, digits, `_`, `-` and `.`, which every dialect's JSON path reads as one key.
CUSTOM_FIELD = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
# Longer strings are kept as "x" (no value): an index entry must stay well under PostgreSQL's
# limit (about 2,700 bytes).
CUSTOM_STRING_BYTES = 1000
_EXACT_INTEGER = 2**53  # beyond it, not every integer is a double


def custom_value_rows(version_id: str, metadata: VersionMetadata) -> list[dict[str, Any]]:
    """The version_custom_values rows of a version: one per field with a non-null value."""
    document = metadata.custom_metadata
    if not document or not isinstance(document, dict):
        return []
    rows = []
    for field, value in document.items():
        if value is None or not isinstance(field, str) or not CUSTOM_FIELD.fullmatch(field):
            continue
        kind, string, number = custom_value(value)
        rows.append(
            {"version_id": version_id, "field": field, "kind": kind, "string": string,
             "number": number}
        )  # fmt: skip
    return rows


def custom_value(value: Any) -> tuple[str, str | None, float | None]:
    """(kind, string, number) of one non-null custom metadata value (tables.py)."""
    if isinstance(value, bool):
        return "b", None, 1.0 if value else 0.0
    if isinstance(value, int):
        return ("n", None, float(value)) if abs(value) <= _EXACT_INTEGER else ("x", None, None)
    if isinstance(value, float):
        return ("n", None, value) if math.isfinite(value) else ("x", None, None)
    if isinstance(value, str) and "\x00" not in value:
        try:
            size = len(value.encode())
        except UnicodeEncodeError:  # a lone surrogate: no database takes it as text
            return "x", None, None
        if size <= CUSTOM_STRING_BYTES:
            return "s", value, None
    return "x", None, None
