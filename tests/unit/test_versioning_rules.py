"""The pure versioning rules: overwrite flags, numbering, detail updates."""

from __future__ import annotations

import pytest

from mediavault.domain.models import ContentInfo, File, Version, VersionMetadata
from mediavault.domain.versioning import (
    DetailsUpdate,
    UploadOptions,
    apply_details,
    ensure_deletable,
    ensure_may_overwrite,
    ensure_room_for_version,
    metadata_for_upload,
    next_version_number,
)
from mediavault.errors import CannotDeleteCurrentVersion, FileAlreadyExists, VersionLimitReached

PREVIOUS = VersionMetadata(
    tags=["old"],
    ai_tags=[{"name": "cat", "confidence": 90.0, "source": "google-auto-tagging"}],
    custom_metadata={"k": "v"},
    custom_coordinates="1,1,1,1",
    description="before",
    is_private_file=True,
    is_published=True,
)


def version(is_current: bool, metadata: VersionMetadata = PREVIOUS) -> Version:
    content = ContentInfo("0" * 64, 1, "text/plain", "non-image")
    return Version("a" * 24, "a" * 24, 1, content, metadata, "t" * 32, is_current, 0, 0)


def test_defaults_drop_what_the_request_does_not_send() -> None:
    result = metadata_for_upload(UploadOptions(), version(True))
    assert result == VersionMetadata(custom_metadata={})


def test_overwrite_false_keeps_tags_metadata_and_ai_tags() -> None:
    options = UploadOptions(
        overwrite_tags=False, overwrite_custom_metadata=False, overwrite_ai_tags=False
    )
    result = metadata_for_upload(options, version(True))
    assert result.tags == ["old"] and result.custom_metadata == {"k": "v"}
    assert result.ai_tags == PREVIOUS.ai_tags
    # Coordinates, description and flags are never carried over.
    assert result.custom_coordinates is None and result.description is None
    assert result.is_private_file is False


def test_sent_values_win_over_overwrite_false() -> None:
    options = UploadOptions(
        tags=["new"],
        custom_metadata={"n": 1},
        overwrite_tags=False,
        overwrite_custom_metadata=False,
    )
    result = metadata_for_upload(options, version(True))
    assert result.tags == ["new"] and result.custom_metadata == {"n": 1}


def test_first_version_takes_the_request_as_it_is() -> None:
    options = UploadOptions(tags=["a"], custom_coordinates="0,0,5,5", is_published=False)
    result = metadata_for_upload(options, None)
    assert result.tags == ["a"] and result.custom_coordinates == "0,0,5,5"
    assert result.is_published is False


def test_numbers_come_from_the_counter_not_the_count() -> None:
    file = File("f" * 24, "x", "/", last_version_number=7, created_at=0, updated_at=0)
    assert next_version_number(file) == 8


def test_guards() -> None:
    with pytest.raises(CannotDeleteCurrentVersion):
        ensure_deletable(version(True))
    ensure_deletable(version(False))
    with pytest.raises(FileAlreadyExists):
        ensure_may_overwrite(UploadOptions(overwrite_file=False))
    ensure_room_for_version(99, 100)
    with pytest.raises(VersionLimitReached):
        ensure_room_for_version(100, 100)


def test_details_update_touches_only_what_is_sent() -> None:
    assert apply_details(PREVIOUS, DetailsUpdate()) == PREVIOUS
    cleared = apply_details(PREVIOUS, DetailsUpdate(tags=None, custom_coordinates=None))
    assert cleared.tags is None and cleared.custom_coordinates is None
    assert cleared.description == "before"


def test_custom_metadata_merges_and_null_removes() -> None:
    result = apply_details(PREVIOUS, DetailsUpdate(custom_metadata={"k": None, "n": 2}))
    assert result.custom_metadata == {"n": 2}


def test_remove_ai_tags_by_name_or_all() -> None:
    assert (
        apply_details(PREVIOUS, DetailsUpdate(remove_ai_tags=["dog"])).ai_tags == PREVIOUS.ai_tags
    )
    assert apply_details(PREVIOUS, DetailsUpdate(remove_ai_tags=["cat"])).ai_tags is None
    assert apply_details(PREVIOUS, DetailsUpdate(remove_ai_tags="all")).ai_tags is None
