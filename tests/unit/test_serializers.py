"""The File object, written out by hand: the struct built positionally must say exactly this."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from mediavault.domain.models import ContentInfo, File, FileVersion, Version, VersionMetadata
from mediavault.serializers import file_object, file_struct
from mediavault.urls import UrlBuilder

URLS = UrlBuilder("http://h:1/media/")
FILE = File("f" * 24, "a b.jpg", "/x y/", 3, 1_700_000_000_123, 1_700_000_005_456)
BASE = "http://h:1/media/x%20y/a%20b.jpg"


def item(version: Version) -> FileVersion:
    return FileVersion(FILE, version)


def encoded(value: FileVersion) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(msgspec.json.encode(file_struct(value, URLS)))
    return body


def test_a_current_image_version_with_every_field() -> None:
    version = Version(
        "v" * 24,
        FILE.id,
        2,
        ContentInfo("d" * 64, 10, "image/png", "image", 4, 3, False),
        VersionMetadata(
            tags=["t"],
            ai_tags=[{"name": "cat", "confidence": 97.5, "source": "x"}],
            custom_metadata={"price": 1.5},
            custom_coordinates="1,2,3,4",
            description="words",
            is_private_file=True,
            is_published=False,
        ),
        "tok",
        True,
        1,
        2,
    )
    expected = {
        "type": "file",
        "name": "a b.jpg",
        "createdAt": "2023-11-14T22:13:20.123Z",
        "updatedAt": "2023-11-14T22:13:25.456Z",
        "fileId": "f" * 24,
        "tags": ["t"],
        "AITags": [{"name": "cat", "confidence": 97.5, "source": "x"}],
        "versionInfo": {"id": "v" * 24, "name": "Version 2"},
        "embeddedMetadata": None,
        "isPublished": False,
        "customCoordinates": "1,2,3,4",
        "customMetadata": {"price": 1.5},
        "isPrivateFile": True,
        "url": f"{BASE}?updatedAt=1700000005456",
        "thumbnail": f"{BASE}?updatedAt=1700000005456&tr=n-ik_ml_thumbnail",
        "fileType": "image",
        "filePath": "/x y/a b.jpg",
        "height": 3,
        "width": 4,
        "size": 10,
        "hasAlpha": False,
        "mime": "image/png",
        "description": "words",
    }
    assert file_object(item(version), URLS) == expected
    assert encoded(item(version)) == expected


def test_an_older_version_leaves_out_what_it_does_not_have() -> None:
    version = Version(
        "w" * 24,
        FILE.id,
        1,
        ContentInfo("d" * 64, 0, "text/plain", "non-image"),
        VersionMetadata(),
        "tok2",
        False,
        1_600_000_000_000,
        1_600_000_000_999,
    )
    expected = {
        "type": "file-version",
        "name": "a b.jpg",
        "createdAt": "2020-09-13T12:26:40.000Z",
        "updatedAt": "2020-09-13T12:26:40.999Z",
        "fileId": "f" * 24,
        "tags": None,
        "AITags": None,
        "versionInfo": {"id": "w" * 24, "name": "Version 1"},
        "embeddedMetadata": None,
        "isPublished": True,
        "customCoordinates": None,
        "customMetadata": {},
        "isPrivateFile": False,
        "url": f"{BASE}?ik-obj-version=tok2&updatedAt=1600000000999",
        "thumbnail": f"{BASE}?ik-obj-version=tok2&updatedAt=1600000000999&tr=n-ik_ml_thumbnail",
        "fileType": "non-image",
        "filePath": "/x y/a b.jpg",
        "size": 0,
        "mime": "text/plain",
    }
    assert file_object(item(version), URLS) == expected
    assert encoded(item(version)) == expected
    # Zero is a value, not an absence.
    zero = msgspec.structs.replace(
        version, content=ContentInfo("d" * 64, 0, "image/png", "image", 0, 0)
    )
    assert {"height": 0, "width": 0}.items() <= encoded(item(zero)).items()
