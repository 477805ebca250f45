"""Image transformations on delivery, end to end: URLs built by the official SDK, answers
decoded with Pillow.

The input is a 1000x800 JPEG whose quadrants are four distinct colours, so that sizes, crops,
padding, rotation and flips can be read back from a few pixel probes. The server is of its own:
a small input pixel limit (so that the limit is reachable with a small upload) and an operator's
named transformation.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from imagekitio import ImageKit
from PIL import Image

from tests.support import TEST_KEY, ServerProcess, free_port

WIDTH, HEIGHT = 1000, 800
RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
MAGENTA, BLACK = (255, 0, 255), (0, 0, 0)
MAX_INPUT_PIXELS = 1_000_000  # the quadrant image (800,000) fits; 1200x1000 does not
BAD = "Bad Image Transformation Request"


def quadrants(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """Red top left, green top right, blue bottom left, yellow bottom right."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(scope="module")
def tserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("transform")
    named = root / "named.json"
    named.write_text(json.dumps({"square": "w-100,h-100,c-force"}))
    process = ServerProcess(
        data=root / "data",
        port=free_port(),
        env={
            "MEDIAVAULT_TRANSFORM_MAX_INPUT_PIXELS": str(MAX_INPUT_PIXELS),
            "MEDIAVAULT_NAMED_TRANSFORMATIONS_FILE": str(named),
        },
    ).start()
    yield process
    try:
        assert "problem" not in process.cli("fsck").lower()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def tclient(tserver: ServerProcess) -> ImageKit:
    return ImageKit(private_key=TEST_KEY, base_url=tserver.base_url, max_retries=0)


@pytest.fixture(scope="module")
def source(tclient: ImageKit) -> str:
    """The path of the quadrant image in the library."""
    folder = f"/tr{uuid.uuid4().hex[:8]}"
    upload(tclient, quadrants(), folder, "q.jpg")
    return f"{folder}/q.jpg"


def upload(client: ImageKit, content: bytes, folder: str, name: str, **kw: Any) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def url(
    client: ImageKit, server: ServerProcess, src: str, steps: list[dict[str, Any]], **kw: Any
) -> str:
    return client.helper.build_url(
        src=src, url_endpoint=server.url_endpoint, transformation=steps, **kw
    )


def decode(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def near(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    values = pixel if isinstance(pixel, tuple) else (pixel,)
    # None in `colour`: that channel is not probed.
    return all(b is None or abs(a - b) <= tolerance for a, b in zip(values, colour, strict=False))


# steps, (width, height), Pillow format, mode, probes {(x, y): colour}
TABLE: list[tuple[list[dict[str, Any]], tuple[int, int], str, str, dict[tuple[int, int], Any]]] = [
    (
        [{"width": 500}],
        (500, 400),
        "JPEG",
        "RGB",
        {(10, 10): RED, (490, 10): GREEN, (10, 390): BLUE, (490, 390): YELLOW},
    ),
    ([{"height": 200}], (250, 200), "JPEG", "RGB", {(5, 5): RED, (245, 195): YELLOW}),
    (
        [{"width": 300, "height": 300, "crop": "force"}],
        (300, 300),
        "JPEG",
        "RGB",
        {(10, 10): RED, (290, 290): YELLOW},
    ),
    ([{"width": 400, "height": 400}], (400, 400), "JPEG", "RGB", {(10, 10): RED}),
    ([{"width": 200, "height": 100, "crop": "at_max"}], (125, 100), "JPEG", "RGB", {}),
    (
        [{"width": 400, "height": 400, "crop_mode": "pad_resize", "background": "FF00FF"}],
        (400, 400),
        "JPEG",
        "RGB",
        {(200, 10): MAGENTA, (200, 390): MAGENTA, (10, 60): RED, (390, 340): YELLOW},
    ),
    (
        [{"width": 400, "height": 400, "crop_mode": "pad_resize"}],
        (400, 400),
        "JPEG",
        "RGB",
        {(200, 10): BLACK, (10, 60): RED},
    ),
    (
        [{"width": 100, "height": 100, "crop_mode": "extract", "focus": "top_left"}],
        (100, 100),
        "JPEG",
        "RGB",
        {(5, 5): RED, (95, 95): RED},
    ),
    (
        [{"width": 100, "height": 100, "crop_mode": "extract", "focus": "bottom_right"}],
        (100, 100),
        "JPEG",
        "RGB",
        {(5, 5): YELLOW, (95, 95): YELLOW},
    ),
    (
        [{"rotation": 90}],
        (800, 1000),
        "JPEG",
        "RGB",
        {(10, 10): BLUE, (790, 10): RED, (790, 990): GREEN, (10, 990): YELLOW},
    ),
    ([{"flip": "h"}], (1000, 800), "JPEG", "RGB", {(10, 10): GREEN, (990, 790): BLUE}),
    ([{"width": 100, "grayscale": True}], (100, 80), "JPEG", "L", {}),
    ([{"width": 200, "format": "png"}], (200, 160), "PNG", "RGB", {(5, 5): RED}),
    ([{"width": 200, "format": "webp"}], (200, 160), "WEBP", "RGB", {(5, 5): RED}),
    ([{"width": 200, "format": "avif"}], (200, 160), "AVIF", "RGB", {(5, 5): RED}),
    ([{"width": 200, "radius": "max"}], (200, 160), "PNG", "RGBA", {(0, 0): (None, None, None, 0)}),
    ([{"width": 200, "border": "5_FF00FF"}], (210, 170), "JPEG", "RGB", {(1, 1): MAGENTA}),
    ([{"named": "square"}], (100, 100), "JPEG", "RGB", {(5, 5): RED}),
    ([{"width": 0.5}], (500, 400), "JPEG", "RGB", {(5, 5): RED, (495, 395): YELLOW}),
    (
        [{"aspect_ratio": "4-3", "width": 400}],
        (400, 300),
        "JPEG",
        "RGB",
        {(5, 5): RED, (395, 295): YELLOW},
    ),
    ([{"width": 300, "height": 300, "crop": "at_least"}], (375, 300), "JPEG", "RGB", {}),
    # Below the test server's pixel limit, which bounds what a chain may produce as well.
    ([{"width": 1100, "height": 900, "crop": "at_max_enlarge"}], (1100, 880), "JPEG", "RGB", {}),
    (
        [{"width": 1100, "height": 900, "crop_mode": "pad_extract", "background": "00FF00"}],
        (1100, 900),
        "JPEG",
        "RGB",
        {(5, 5): (0, 255, 0), (100, 100): RED, (1000, 800): YELLOW},
    ),
    (
        [{"x": 10, "y": 20, "width": 100, "height": 100, "crop_mode": "extract"}],
        (100, 100),
        "JPEG",
        "RGB",
        {(50, 50): RED},
    ),
    (
        [{"width": 100, "height": 100, "crop_mode": "extract", "focus": "auto"}],
        (100, 100),
        "JPEG",
        "RGB",
        {},
    ),
    ([{"dpr": 2, "width": 100}], (200, 160), "JPEG", "RGB", {(5, 5): RED}),
    ([{"quality": 30}], (1000, 800), "JPEG", "RGB", {(5, 5): RED}),
    ([{"blur": 10}], (1000, 800), "JPEG", "RGB", {(5, 5): RED, (995, 795): YELLOW}),
    ([{"rotation": "auto"}], (1000, 800), "JPEG", "RGB", {(5, 5): RED}),
    ([{"width": 200, "format": "png", "lossless": True}], (200, 160), "PNG", "RGB", {}),
    ([{"width": 200, "progressive": True}], (200, 160), "JPEG", "RGB", {(5, 5): RED}),
]


@pytest.mark.parametrize(("steps", "size", "fmt", "mode", "probes"), TABLE)
def test_transformations_give_the_documented_pixels(
    tclient: ImageKit,
    tserver: ServerProcess,
    source: str,
    steps: list[dict[str, Any]],
    size: tuple[int, int],
    fmt: str,
    mode: str,
    probes: dict[tuple[int, int], Any],
) -> None:
    by_path = httpx.get(url(tclient, tserver, source, steps, transformation_position="path"))
    by_query = httpx.get(url(tclient, tserver, source, steps, transformation_position="query"))
    image = decode(by_path)
    assert (image.size, image.format, image.mode) == (size, fmt, mode)
    assert by_path.headers["content-type"] == Image.MIME[fmt]
    for (x, y), colour in probes.items():
        assert near(image.getpixel((x, y)), colour), ((x, y), image.getpixel((x, y)), colour)
    assert by_query.content == by_path.content  # both syntaxes, one rendition
    assert by_query.headers["etag"] == by_path.headers["etag"]


def test_a_chain_runs_left_to_right(tclient: ImageKit, tserver: ServerProcess, source: str) -> None:
    steps = [{"width": 500, "height": 400}, {"rotation": 90}, {"width": 100}]
    chained = httpx.get(url(tclient, tserver, source, steps))
    image = decode(chained)
    assert image.size == (100, 125)
    assert near(image.getpixel((5, 5)), BLUE) and near(image.getpixel((95, 5)), RED)
    # Path and query chains together: the path's steps first, then the query's.
    base = tserver.url_endpoint
    both = httpx.get(f"{base}/tr:w-500,h-400{source}?tr=rt-90:w-100")
    assert both.status_code == 200 and both.content == chained.content


def test_plain_urls_and_orig_true_give_the_stored_bytes(
    tclient: ImageKit, tserver: ServerProcess, source: str
) -> None:
    stored = quadrants()
    plain = httpx.get(f"{tserver.url_endpoint}{source}", headers={"Accept": "image/avif,*/*"})
    assert plain.content == stored and "vary" not in plain.headers
    original = httpx.get(url(tclient, tserver, source, [{"original": True}]))
    assert original.content == stored and original.headers["etag"] == plain.headers["etag"]
    empty = httpx.get(f"{tserver.url_endpoint}{source}?tr=")
    assert empty.content == stored


def test_an_older_version_is_transformed(
    tclient: ImageKit, tserver: ServerProcess, source: str
) -> None:
    folder = f"/old{uuid.uuid4().hex[:8]}"
    first = upload(tclient, quadrants(), folder, "v.jpg")
    upload(tclient, quadrants(400, 400), folder, "v.jpg")
    _, older = tclient.files.versions.list(first.file_id)
    assert older.url and "ik-obj-version=" in older.url
    old = decode(httpx.get(url(tclient, tserver, older.url, [{"width": 100}])))
    new = decode(httpx.get(url(tclient, tserver, f"{folder}/v.jpg", [{"width": 100}])))
    assert old.size == (100, 80) and new.size == (100, 100)
    response = httpx.get(url(tclient, tserver, older.url, [{"width": 100}]))
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("position", ["path", "query"])
def test_private_files_need_a_signed_transformation(
    tclient: ImageKit, tserver: ServerProcess, position: str
) -> None:
    folder = f"/private{uuid.uuid4().hex[:8]}"
    upload(tclient, quadrants(), folder, "p.jpg", is_private_file=True)
    src = f"{folder}/p.jpg"
    steps = [{"width": 100}]
    unsigned = url(tclient, tserver, src, steps, transformation_position=position)
    assert httpx.get(unsigned).status_code == 401
    signed = url(tclient, tserver, src, steps, transformation_position=position, signed=True)
    response = httpx.get(signed)
    assert decode(response).size == (100, 80)
    assert response.headers["cache-control"].startswith("private")
    expiring = url(tclient, tserver, src, steps, transformation_position=position, expires_in=60)
    assert decode(httpx.get(expiring)).size == (100, 80)
    # Another transformation under the same signature: refused.
    tampered = signed.replace("w-100", "w-900")
    assert tampered != signed and httpx.get(tampered).status_code == 401
    # Named transformations work unsigned (spec 1.4); the built-in thumbnail, as always, does not.
    named = url(tclient, tserver, src, [{"named": "square"}], transformation_position=position)
    assert decode(httpx.get(named)).size == (100, 100)
    thumb = url(tclient, tserver, src, [{"named": "ik_ml_thumbnail"}])
    assert httpx.get(thumb).status_code == 401


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("image/avif,image/webp,*/*", "AVIF"),
        ("image/webp,image/*,*/*;q=0.8", "WEBP"),
        ("image/*,*/*", "JPEG"),
        (None, "JPEG"),
    ],
)
def test_f_auto_picks_from_accept_and_varies_on_it(
    tclient: ImageKit, tserver: ServerProcess, source: str, accept: str | None, fmt: str
) -> None:
    link = url(tclient, tserver, source, [{"width": 120, "format": "auto"}])
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(link, headers=headers)
    assert decode(response).format == fmt
    assert response.headers["vary"] == "Accept"
    not_modified = httpx.get(link, headers={**headers, "If-None-Match": response.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.headers["vary"] == "Accept"
    # The default is f-auto too, whenever there is a tr.
    assert httpx.get(url(tclient, tserver, source, [{"width": 120}]), headers=headers).content == (
        response.content
    )


def test_a_rendition_is_computed_once_then_served_from_the_cache(
    tclient: ImageKit, tserver: ServerProcess
) -> None:
    folder = f"/cache{uuid.uuid4().hex[:8]}"
    uploaded = upload(tclient, quadrants(1000, 802), folder, "c.jpg")  # bytes of its own
    link = url(tclient, tserver, f"{folder}/c.jpg", [{"width": 321}])
    cache = tserver.data / "cache" / "renditions"
    first = httpx.get(link)
    files = _renditions(cache, first.content)
    assert len(files) == 1
    written = files[0].stat().st_mtime_ns
    second = httpx.get(link)
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert _renditions(cache, first.content) == files and files[0].stat().st_mtime_ns == written
    again = httpx.get(link, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    # Deleting the file for good (the trash keeps it until purged) deletes its blob and, with
    # it, the blob's renditions.
    tclient.files.delete(uploaded.file_id)
    assert _renditions(cache, first.content) == files
    purged = httpx.delete(f"{tserver.base_url}/v1/trash/{uploaded.file_id}", auth=(TEST_KEY, ""))
    assert purged.status_code == 204
    assert _renditions(cache, first.content) == []


def _renditions(cache: Path, content: bytes) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file() and p.read_bytes() == content]


def test_non_images_are_served_as_stored(tclient: ImageKit, tserver: ServerProcess) -> None:
    folder = f"/text{uuid.uuid4().hex[:8]}"
    upload(tclient, b"some words\n", folder, "n.txt")
    response = httpx.get(url(tclient, tserver, f"{folder}/n.txt", [{"width": 100}]))
    assert response.status_code == 200 and response.content == b"some words\n"
    assert response.headers["content-type"].startswith("text/plain")
    thumb = httpx.get(url(tclient, tserver, f"{folder}/n.txt", [{"named": "ik_ml_thumbnail"}]))
    assert thumb.headers["content-type"] == "image/png"
    refused = httpx.get(f"{tserver.url_endpoint}{folder}/n.txt?tr=foo-1")
    assert refused.status_code == 400  # a bad transformation is bad whatever the file


@pytest.mark.parametrize(
    ("tr", "ik_error"),
    [
        ("foo-1", "EINVALID - unknown transformation parameter 'foo'"),
        ("w-abc", "EINVALID - invalid value 'abc' for the parameter 'w'"),
        ("w-0", "EINVALID - invalid value '0' for the parameter 'w'"),
        ("c-nope", "EINVALID - invalid value 'nope' for the parameter 'c'"),
        ("bg-zzzzzz,w-10", "EINVALID - invalid value 'zzzzzz' for the parameter 'bg'"),
        ("w-100,w-200", "EINVALID - the parameter 'w' is given twice in a step"),
        ("z-1", "EINVALID - unsupported transformation parameter 'z'"),
        ("n-nope", "EINVALID - unknown named transformation 'nope'"),
        (":".join(["w-1"] * 17), "EINVALID - a transformation can have at most 16 steps"),
    ],
)
@pytest.mark.parametrize("position", ["path", "query"])
def test_bad_transformations_are_400_with_ik_error(
    tserver: ServerProcess, source: str, tr: str, ik_error: str, position: str
) -> None:
    base = tserver.url_endpoint
    link = f"{base}/tr:{tr}{source}" if position == "path" else f"{base}{source}?tr={tr}"
    response = httpx.get(link)
    assert response.status_code == 400
    assert response.json()["message"] == BAD
    assert response.headers["ik-error"] == ik_error


def test_the_pixel_limit_is_a_400_with_elimit(
    tclient: ImageKit, tserver: ServerProcess, source: str
) -> None:
    folder = f"/big{uuid.uuid4().hex[:8]}"
    upload(tclient, quadrants(1200, 1000), folder, "big.jpg")  # 1.2 MP, over the 1 MP limit
    response = httpx.get(url(tclient, tserver, f"{folder}/big.jpg", [{"width": 100}]))
    assert response.status_code == 400 and response.json()["message"] == BAD
    assert response.headers["ik-error"].startswith("ELIMIT - ")
    # An output over the largest side, from an image within the limit.
    wide = httpx.get(url(tclient, tserver, source, [{"width": 20000, "height": 10}]))
    assert wide.status_code == 400 and wide.headers["ik-error"].startswith("ELIMIT - ")
    # The thumbnail is never refused: too large a picture gets the placeholder.
    thumb = httpx.get(url(tclient, tserver, f"{folder}/big.jpg", [{"named": "ik_ml_thumbnail"}]))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"


def test_fsck_checks_the_rendition_cache_and_repair_cleans_it(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    try:
        upload(client, quadrants(), "/f", "f.jpg")
        kept = decode(httpx.get(url(client, server, "/f/f.jpg", [{"width": 50}])))
        assert kept.size == (50, 40)
    finally:
        server.stop()
    data = ["--data", str(server.data)]
    assert server.cli_result("fsck", *data).returncode == 0
    cache = server.data / "cache" / "renditions"
    gone = "ab" + "0" * 62  # a blob that does not exist
    (cache / "ab" / gone).mkdir(parents=True)
    (cache / "ab" / gone / ("1" * 32 + ".jpg")).write_bytes(b"a rendition of a deleted blob")
    (cache / "stray.txt").write_text("not a rendition")
    found = server.cli_result("fsck", *data)
    assert found.returncode == 1
    assert f"problem: renditions of a deleted blob: {gone}" in found.stdout
    assert "problem: unknown file in the rendition cache" in found.stdout
    repaired = server.cli_result("fsck", "--repair", *data)
    assert repaired.returncode == 0, repaired.stdout
    assert not (cache / "ab" / gone).exists() and not (cache / "stray.txt").exists()
    assert server.cli_result("fsck", *data).returncode == 0
    assert [p for p in cache.rglob("*.jpg")]  # the real rendition is kept
