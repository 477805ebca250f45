"""The metadata API, embeddedMetadata and its search, video facts and thumbnails, against a
real server through the official SDK (spec §4). Hostile files never get a 5xx."""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterator
from urllib.parse import quote

import av
import httpx
import imagekitio
import pytest
from imagekitio import ImageKit
from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

from tests.server_log import LogCursor
from tests.support import TEST_KEY, ServerProcess

AUTH = (TEST_KEY, "")
UNKNOWN_ID = "0123456789abcdef01234567"
HEX16 = re.compile(r"^[0-9a-f]{16}$")


@pytest.fixture(autouse=True)
def no_server_fault(server: ServerProcess) -> Iterator[None]:
    """Every server fault is logged at ERROR: none may appear, whatever a test asserts."""
    log = LogCursor(server)
    yield
    faults = [r for r in log.records(wait_for="", timeout=0) if r.level in ("ERROR", "CRITICAL")]
    assert faults == []


def _picture(seed: int = 0, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A picture with structure (a pHash of a flat colour says nothing)."""
    image = Image.new("RGB", size, (40 + seed * 50 % 200, 90, 160))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        x = (n * 37 + seed * 53) % size[0]
        draw.ellipse((x, n * 17 % size[1], x + 40, n * 17 % size[1] + 30), fill=(250, 240, 20))
    draw.rectangle((0, 0, size[0] // (2 + seed % 3), size[1] // 3), fill=(10, 10, 10))
    return image


def _icc_profile() -> bytes:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


def _jpeg_with_exif(picture: Image.Image, quality: int = 80) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 40D"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 CW
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2008:05:30 15:56:01"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (IFDRational(48, 1), IFDRational(51, 1), IFDRational(2940, 100))
    gps[3] = "E"
    gps[4] = (IFDRational(2, 1), IFDRational(21, 1), IFDRational(780, 100))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, exif=exif, icc_profile=_icc_profile())
    return out.getvalue()


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _video(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), fps: int = 10) -> bytes:
    """One second of a single colour, MPEG-4 Part 2 in MP4, written by PyAV."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        frame = Image.new("RGB", size, colour)
        for _ in range(fps):
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _upload(
    client: ImageKit, data: bytes, name: str, folder: str
) -> imagekitio.types.FileUploadResponse:
    return client.files.upload(file=data, file_name=name, folder=folder, use_unique_file_name=False)


def _metadata(server: ServerProcess, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}{path}", params=params, auth=AUTH, timeout=30)


# -- images -------------------------------------------------------------------------------------


def test_metadata_of_a_jpeg_by_id_and_by_both_url_routes(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    data = _jpeg_with_exif(_picture(1), quality=80)
    uploaded = _upload(client, data, "exif.jpg", folder)
    assert uploaded.file_id is not None

    by_id = client.files.metadata.get(uploaded.file_id)
    assert (by_id.width, by_id.height, by_id.size, by_id.format) == (160, 120, len(data), "jpg")
    assert by_id.has_color_profile is True
    assert by_id.has_transparency is False
    assert by_id.quality is not None and abs(by_id.quality - 80) <= 5
    assert by_id.density == 72
    assert by_id.p_hash is not None and HEX16.match(by_id.p_hash)
    exif = by_id.exif
    assert exif is not None and exif.image is not None and exif.exif is not None
    assert (exif.image.make, exif.image.model, exif.image.orientation) == (
        "Canon",
        "Canon EOS 40D",
        6,
    )
    assert exif.exif.date_time_original == "2008:05:30 15:56:01"
    assert exif.gps is not None
    assert exif.gps.gps_latitude_ref == "N" and exif.gps.gps_longitude_ref == "E"
    assert exif.gps.gps_latitude == [48, 51, 29.4]
    assert exif.gps.gps_longitude == [2, 21, 7.8]
    assert exif.makernote == {}

    url = f"{server.url_endpoint}{folder}/exif.jpg"
    by_sdk_url = client.files.metadata.get_from_url(url=url)
    assert by_sdk_url.model_dump() == by_id.model_dump()
    by_oas_url = _metadata(server, "/v1/files/metadata", url=url)
    assert by_oas_url.status_code == 200, by_oas_url.text
    assert by_oas_url.json() == _metadata(server, f"/v1/files/{uploaded.file_id}/metadata").json()


def test_phash_is_stable_for_the_same_pixels_and_differs_for_another_picture(
    client: ImageKit, folder: str
) -> None:
    same_a = _upload(client, _png(_picture(2)), "a.png", folder)
    jpeg = io.BytesIO()
    _picture(2).save(jpeg, "JPEG", quality=95)  # no EXIF orientation: the same pixels upright
    same_b = _upload(client, jpeg.getvalue(), "b.jpg", folder)
    other = _upload(
        client, _png(_picture(4).transpose(Image.Transpose.ROTATE_180)), "c.png", folder
    )
    hashes = [
        client.files.metadata.get(item.file_id or "").p_hash for item in (same_a, same_b, other)
    ]
    assert all(h is not None and HEX16.match(h) for h in hashes)
    a, b, c = (int(h or "0", 16) for h in hashes)
    assert bin(a ^ b).count("1") <= 4  # the same pixels (JPEG moves them a little)
    assert bin(a ^ c).count("1") >= 10


def test_a_png_with_transparency(client: ImageKit, folder: str) -> None:
    image = Image.new("RGBA", (30, 20), (255, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((5, 5, 20, 15), fill=(0, 0, 255, 255))
    uploaded = _upload(client, _png(image), "alpha.png", folder)
    found = client.files.metadata.get(uploaded.file_id or "")
    assert (found.format, found.width, found.height) == ("png", 30, 20)
    assert found.has_transparency is True
    assert found.quality == 0 and found.has_color_profile is False

    opaque = _upload(client, _png(Image.new("RGB", (30, 20), "red")), "opaque.png", folder)
    assert client.files.metadata.get(opaque.file_id or "").has_transparency is False


def test_a_transformed_url_of_this_server_reports_the_rendition(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    _upload(client, _jpeg_with_exif(_picture(3)), "t.jpg", folder)
    found = client.files.metadata.get_from_url(url=f"{server.url_endpoint}/tr:w-40{folder}/t.jpg")
    assert found.width == 40


def test_unknown_and_invalid_ids_and_urls(client: ImageKit, server: ServerProcess) -> None:
    with pytest.raises(imagekitio.NotFoundError) as missing:
        client.files.metadata.get(UNKNOWN_ID)
    assert "does not exist or is inaccessible" in str(missing.value)
    assert _metadata(server, "/v1/files/not-an-id/metadata").status_code == 400
    assert _metadata(server, "/v1/metadata").json()["message"] == (
        "Your request is missing url parameter."
    )
    gone = _metadata(server, "/v1/metadata", url=f"{server.url_endpoint}/nowhere/x.jpg")
    assert gone.status_code == 404
    assert gone.json()["message"] == (
        "The requested file does not exist or is inaccessible at this time."
    )


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "localhost"])
def test_another_hosts_url_goes_through_the_guarded_fetcher(
    server: ServerProcess, host: str
) -> None:
    """A private address is refused as upload by URL refuses it, for both URL routes."""
    for path in ("/v1/metadata", "/v1/files/metadata"):
        answer = _metadata(server, path, url=f"http://{host}:9/secret.jpg")
        assert answer.status_code == 400, answer.text
        message = answer.json()["message"]
        assert message.startswith("The url should be accessible using your ImageKit.io account.")
        assert "not a public address" in message


def test_embedded_metadata_in_the_file_object_and_its_search(client: ImageKit, folder: str) -> None:
    uploaded = _upload(client, _jpeg_with_exif(_picture(5)), "embedded.jpg", folder)
    plain = _upload(client, _png(_picture(6)), "plain.png", folder)
    details = client.files.get(uploaded.file_id or "")
    embedded = details.embedded_metadata
    assert embedded is not None
    assert embedded["Make"] == "Canon" and embedded["Model"] == "Canon EOS 40D"
    assert embedded["Orientation"] == "Rotate 90 CW"
    assert embedded["DateTimeOriginal"] == "2008-05-30T15:56:01.000Z"
    assert embedded["GPSLatitude"] == pytest.approx(48.858167)
    assert embedded["GPSLongitude"] == pytest.approx(2.3521667)
    assert client.files.get(plain.file_id or "").embedded_metadata is None

    def names(query: str) -> set[str]:
        return {f.name for f in client.assets.list(path=folder, search_query=query)}  # type: ignore[union-attr]

    assert names('"embeddedMetadata.Make" = "Canon"') == {"embedded.jpg"}
    assert names('"embeddedMetadata.Make" = "Nikon"') == set()
    assert names('"embeddedMetadata.Model" IN ["Canon EOS 40D", "x"]') == {"embedded.jpg"}
    assert names('"embeddedMetadata.DateTimeOriginal" < "2010-01-01"') == {"embedded.jpg"}
    assert names('"embeddedMetadata.DateTimeOriginal" > "2010-01-01"') == set()
    assert names('"embeddedMetadata.DateTimeOriginal" > "30y"') == {"embedded.jpg"}
    assert names('"embeddedMetadata.Make" != "Canon"') == {"plain.png"}

    response = client.files.upload(
        file=_jpeg_with_exif(_picture(5)),
        file_name="r.jpg",
        folder=folder,
        response_fields=["embeddedMetadata", "metadata"],
    )
    assert response.embedded_metadata is not None
    assert response.embedded_metadata["Make"] == "Canon"


# -- videos -------------------------------------------------------------------------------------


def test_a_video_gets_its_facts_and_a_real_frame_as_thumbnail(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    data = _video((220, 30, 30))
    uploaded = _upload(client, data, "clip.mp4", folder)
    details = client.files.get(uploaded.file_id or "")
    assert (details.width, details.height, details.file_type) == (64, 48, "non-image")
    extra = details.model_dump(by_alias=True)
    assert extra["duration"] == 1 and extra["videoCodec"] == "mpeg4"
    assert isinstance(extra["bitRate"], int) and extra["bitRate"] > 0

    found = client.files.metadata.get(uploaded.file_id or "")
    assert (found.width, found.height, found.duration, found.video_codec) == (64, 48, 1, "mpeg4")
    assert found.format == "mp4" and found.size == len(data)
    assert found.p_hash is None and found.exif is None

    thumbnail = httpx.get(details.thumbnail or "", timeout=30)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"].startswith("image/")
    frame = Image.open(io.BytesIO(thumbnail.content)).convert("RGB")
    r, g, b = frame.getpixel((frame.width // 2, frame.height // 2))  # type: ignore[misc]
    assert r > 180 and g < 80 and b < 80, (r, g, b)

    blue = _upload(client, _video((30, 30, 220)), "blue.mp4", folder)
    blue_thumb = httpx.get(client.files.get(blue.file_id or "").thumbnail or "", timeout=30)
    r, g, b = Image.open(io.BytesIO(blue_thumb.content)).convert("RGB").getpixel((10, 10))  # type: ignore[misc]
    assert b > 180 and r < 80, (r, g, b)


# -- hostile files --------------------------------------------------------------------------------


def _jpeg_with_giant_exif_length() -> bytes:
    """SOI, an APP1 segment that claims 65535 bytes of EXIF but whose IFD claims 2**31 entries
    at an offset far beyond the file, then the end."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 0xFFFF) + b"\x01" * 40
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", 0xFFFF) + body + b"\xff\xd9"


def _png_bomb() -> bytes:
    """A PNG whose header claims 60000x60000 pixels (3.6 gigapixels): refused by the pixel
    limits before a pixel is decoded, whatever reads it."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1000, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _truncated_jpeg() -> bytes:
    return _jpeg_with_exif(_picture(7))[:600]


HOSTILE = {
    "truncated JPEG with a giant EXIF length": ("giant.jpg", _jpeg_with_giant_exif_length),
    "truncated JPEG": ("cut.jpg", _truncated_jpeg),
    "a PNG claiming 3.6 gigapixels": ("bomb.png", _png_bomb),
    "random bytes named .mp4": ("random.mp4", lambda: os.urandom(200_000)),
    "an MP4 signature then random bytes": (
        "fake.mp4",
        lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(100_000),
    ),
    "a video cut in half": ("half.mp4", lambda: _video((1, 2, 3))[:600]),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_files_are_stored_and_never_fail_the_server(
    client: ImageKit, server: ServerProcess, folder: str, case: str
) -> None:
    name, make = HOSTILE[case]
    uploaded = _upload(client, make(), name, folder)
    assert uploaded.file_id is not None
    details = client.files.get(uploaded.file_id)
    assert details.size is not None and details.size > 0
    answer = _metadata(server, f"/v1/files/{uploaded.file_id}/metadata")
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["message"] == "The requested file is corrupt or invalid."
    by_url = _metadata(server, "/v1/metadata", url=f"{server.url_endpoint}{folder}/{quote(name)}")
    assert by_url.status_code == answer.status_code
    thumbnail = httpx.get(details.thumbnail or "", timeout=30)
    assert thumbnail.status_code == 200
