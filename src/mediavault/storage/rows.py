"""Rows to domain records, shared by every query module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata


def file_from(row: Mapping[Any, Any]) -> File:
    return File(
        id=row["id"],
        name=row["name"],
        folder_path=row["folder_path"],
        last_version_number=row["last_version_number"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
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
