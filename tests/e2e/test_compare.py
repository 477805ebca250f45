"""Compare two versions: metadata changes, pixel differences, and the heatmap PNG."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit
from PIL import Image, ImageDraw

from tests.support import TEST_KEY, ServerProcess

BLUE = (40, 120, 200)
YELLOW = (250, 250, 0)


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60) as client:
        yield client


def png(size: tuple[int, int], rectangle: tuple[int, int, int, int] | None = None) -> bytes:
    """A blue PNG, with a yellow rectangle (corners inclusive) if given."""
    image = Image.new("RGB", size, BLUE)
    if rectangle:
        ImageDraw.Draw(image).rectangle(rectangle, fill=YELLOW)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def versions_of(
    client: ImageKit, folder: str, *uploads: tuple[bytes, dict[str, Any]]
) -> tuple[str, list[str]]:
    """Upload each (content, options) as the next version of one file; ids Version 1 first."""
    file_id = ""
    for content, options in uploads:
        file_id = client.files.upload(
            file=content, file_name="pic.png", folder=folder, use_unique_file_name=False, **options
        ).file_id
    listed = client.files.versions.list(file_id)
    return file_id, [v.version_info.id for v in reversed(listed)]  # type: ignore[union-attr]


def compare(http: httpx.Client, file_id: str, a: str, b: str, **params: str) -> httpx.Response:
    return http.get(f"/v1/files/{file_id}/versions/{a}/compare/{b}", params=params)


def test_same_content_is_reported_with_no_changes(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    content = png((60, 40))
    file_id, (v1, v2) = versions_of(client, folder, (content, {}), (content, {}))
    body = compare(http, file_id, v1, v2).json()
    assert body["sameContent"] is True
    assert body["changed"] == {}
    assert body["image"] == {
        "from": {"width": 60, "height": 40},
        "to": {"width": 60, "height": 40},
        "changedPixelRatio": 0,
        "meanAbsoluteDifference": 0,
        "perceptualHashDistance": 0,
    }


def test_a_metadata_only_change_lists_the_fields_that_changed(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    content = png((60, 40))
    file_id, (v1, v2) = versions_of(
        client,
        folder,
        (content, {"tags": ["a"], "description": "before"}),
        (content, {"tags": ["a", "b"], "is_private_file": True}),
    )
    body = compare(http, file_id, v1, v2).json()
    assert body["sameContent"] is True
    assert body["changed"] == {
        "tags": {"from": ["a"], "to": ["a", "b"]},
        "description": {"from": "before", "to": None},
        "isPrivateFile": {"from": False, "to": True},
    }
    assert body["image"]["changedPixelRatio"] == 0
    # The other way round, from and to swap.
    reverse = compare(http, file_id, v2, v1).json()
    assert reverse["changed"]["tags"] == {"from": ["a", "b"], "to": ["a"]}


def test_a_painted_rectangle_gives_its_share_of_changed_pixels(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    before = png((100, 80))
    after = png((100, 80), rectangle=(0, 0, 49, 39))  # 50 x 40: a quarter of the pixels
    file_id, (v1, v2) = versions_of(client, folder, (before, {}), (after, {}))
    body = compare(http, file_id, v1, v2).json()
    assert body["sameContent"] is False
    assert set(body["changed"]) == {"size"}
    image = body["image"]
    assert image["changedPixelRatio"] == 0.25
    # Over a quarter of the pixels, R, G and B move by 210, 130 and 200 of 255.
    expected_mean = 0.25 * (210 + 130 + 200) / 3 / 255
    assert image["meanAbsoluteDifference"] == pytest.approx(expected_mean, abs=1e-4)
    assert 0 < image["perceptualHashDistance"] <= 64


def test_versions_of_different_sizes_are_compared_at_the_smaller_size(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, v2) = versions_of(
        client, folder, (png((100, 80)), {}), (png((200, 60), rectangle=(100, 0, 199, 59)), {})
    )
    body = compare(http, file_id, v1, v2).json()
    assert body["changed"]["width"] == {"from": 100, "to": 200}
    assert body["changed"]["height"] == {"from": 80, "to": 60}
    image = body["image"]
    assert image["from"] == {"width": 100, "height": 80}
    assert image["to"] == {"width": 200, "height": 60}
    # At 100 x 60, the right half of the second picture is yellow: about half changed.
    assert image["changedPixelRatio"] == pytest.approx(0.5, abs=0.03)


def test_the_heatmap_is_a_png_bright_where_pixels_changed_and_dark_elsewhere(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, v2) = versions_of(
        client, folder, (png((100, 80)), {}), (png((100, 80), rectangle=(0, 0, 49, 39)), {})
    )
    answer = compare(http, file_id, v1, v2, heatmap="true")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    heatmap = Image.open(io.BytesIO(answer.content))
    assert heatmap.format == "PNG" and heatmap.size == (100, 80)
    rgb = heatmap.convert("RGB")
    changed, unchanged = rgb.getpixel((10, 10)), rgb.getpixel((90, 70))
    assert changed[0] == 255 and sum(changed) > 400, changed
    assert unchanged == (0, 0, 0)
    assert compare(http, file_id, v1, v2, heatmap="false").json()["image"] is not None


def test_files_that_are_not_images_have_no_image_comparison_and_no_heatmap(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, v2, v3) = versions_of(
        client, folder, (b"plain text", {}), (b"other text!", {}), (png((10, 10)), {})
    )
    body = compare(http, file_id, v1, v2).json()
    assert body == {
        "sameContent": False,
        "changed": {"size": {"from": 10, "to": 11}},
        "image": None,
    }
    mixed = compare(http, file_id, v2, v3).json()
    assert mixed["image"] is None
    assert mixed["changed"]["fileType"] == {"from": "non-image", "to": "image"}
    assert mixed["changed"]["mime"]["to"] == "image/png"
    refused = compare(http, file_id, v1, v2, heatmap="true")
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "A difference image needs two versions that are both images this server decodes."
    )


def test_compare_errors_are_imagekit_shaped(
    client: ImageKit, http: httpx.Client, folder: str
) -> None:
    file_id, (v1, v2) = versions_of(client, folder, (b"one", {}), (b"two", {}))
    missing = compare(http, file_id, v1, "0" * 24)
    assert missing.status_code == 404
    assert missing.json()["message"] == "The requested asset does not exist."
    assert compare(http, "0" * 24, v1, v2).status_code == 404
    assert compare(http, file_id, v1, "bad").status_code == 400
    wrong = compare(http, file_id, v1, v2, heatmap="yes")
    assert wrong.status_code == 400
    assert wrong.json()["message"] == (
        "Your request contains invalid heatmap parameter. It must be true or false."
    )
    assert compare(http, file_id, v1, v2, other="1").status_code == 400
    anonymous = httpx.get(f"{http.base_url}/v1/files/{file_id}/versions/{v1}/compare/{v2}")
    assert anonymous.status_code == 401
