"""media/metadata.py, the pHash of media/compare.py and media/video.py's limits, on bytes made here."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mediavault.media import metadata, video
from mediavault.media.compare import phash, phash_distance
from mediavault.media.transform.inputs import Limits


def _picture(seed: int) -> Image.Image:
    image = Image.new("RGB", (120, 90), (30 * seed % 255, 100, 200))
    draw = ImageDraw.Draw(image)
    for n in range(5):
        x = (n * 29 + seed * 41) % 120
        draw.ellipse((x, n * 13, x + 30, n * 13 + 25), fill=(255, 230, 10))
    return image


def _jpeg(quality: int) -> bytes:
    out = io.BytesIO()
    _picture(1).save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 90, 95, 100])
def test_the_quality_estimate_finds_the_setting(quality: int) -> None:
    with Image.open(io.BytesIO(_jpeg(quality))) as image:
        assert abs(metadata.quality_estimate(image) - quality) <= 2


def test_formats_without_quantization_tables_have_quality_zero() -> None:
    out = io.BytesIO()
    _picture(1).save(out, "PNG")
    with Image.open(out) as image:
        assert metadata.quality_estimate(image) == 0


def test_exif_dates_become_iso() -> None:
    assert metadata.exif_date_iso("2008:05:30 15:56:01") == "2008-05-30T15:56:01.000Z"
    assert metadata.exif_date_iso("0000:00:00 00:00:00") is None


def test_a_huge_or_broken_exif_block_gives_empty_groups() -> None:
    """An IFD claiming 65535 entries at offsets beyond the block, inside a valid JPEG."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 0xFFFF) + b"\xff" * 60
    app1 = b"Exif\x00\x00" + tiff
    jpeg = _jpeg(80)
    hostile = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]
    started = time.monotonic()
    with Image.open(io.BytesIO(hostile)) as image:
        groups = metadata.exif_groups(image)
        embedded = metadata.embedded_metadata(image)
    assert time.monotonic() - started < 1
    assert set(groups) == {"image", "thumbnail", "exif", "gps", "interoperability", "makernote"}
    assert all(len(group) <= metadata.MAX_TAGS for group in groups.values())
    assert embedded is None or len(embedded) <= metadata.MAX_TAGS


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmp:Rating="4" '
    b'photoshop:City="Lisbon"><dc:creator><rdf:Seq><rdf:li>Ann Example</rdf:li></rdf:Seq>'
    b"</dc:creator><dc:subject><rdf:Bag><rdf:li>cat</rdf:li><rdf:li>sofa</rdf:li></rdf:Bag>"
    b'</dc:subject><dc:title><rdf:Alt><rdf:li xml:lang="x-default">On the sofa</rdf:li>'
    b"</rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>"
)


def test_xmp_properties_join_the_embedded_metadata() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=XMP)
    found = metadata.embedded_metadata(Image.open(io.BytesIO(out.getvalue())))
    assert found is not None
    assert found["Rating"] == "4" and found["City"] == "Lisbon"
    assert found["Creator"] == ["Ann Example"] and found["Subject"] == ["cat", "sofa"]
    assert found["Title"] == "On the sofa"


def test_malformed_or_hostile_xmp_is_ignored() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"&b;</x:xmpmeta>"
    )
    for packet in (b"<x:xmpmeta", bomb):
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, "JPEG", xmp=packet)
        image = Image.open(io.BytesIO(out.getvalue()))
        assert metadata.embedded_metadata(image) is None


def test_long_texts_are_cut() -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 30_000  # ImageDescription (a JPEG's APP1 holds up to 64 KiB)
    out = io.BytesIO()
    _picture(1).save(out, "JPEG", exif=exif)
    with Image.open(out) as image:
        found = metadata.embedded_metadata(image)
    assert found is not None
    assert len(found["ImageDescription"]) == metadata.MAX_TEXT


def test_phash_is_16_hex_digits_stable_and_discriminating(tmp_path: Path) -> None:
    paths = []
    for name, picture in (
        ("a.png", _picture(1)),
        ("b.png", _picture(1).resize((240, 180))),
        ("c.png", _picture(5).transpose(Image.Transpose.FLIP_TOP_BOTTOM)),
    ):
        path = tmp_path / name
        picture.save(path)
        paths.append(path)
    a, b, c = (phash(path, Limits()) for path in paths)
    assert a is not None and b is not None and c is not None
    assert len(a) == 16 and int(a, 16) >= 0
    assert phash(paths[0], Limits()) == a
    assert phash_distance(a, b) <= 4
    assert phash_distance(a, c) >= 10


def test_phash_of_a_picture_beyond_the_pixel_limit_is_none(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _picture(1).save(path)
    assert phash(path, Limits(max_input_pixels=100)) is None


class _Endless(io.RawIOBase):
    """An MP4 signature, then zeros for ever: what an endless stream looks like to a reader."""

    def __init__(self) -> None:
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size < 0 else size
        head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
        chunk = (head + b"\x00" * size)[self.position : self.position + size]
        if self.position >= len(head):
            chunk = b"\x00" * size
        self.position += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self.position = offset
        elif whence == 1:
            self.position += offset
        # whence 2 (the end) of an endless stream: leave it where it is
        return self.position

    def tell(self) -> int:
        return self.position


def test_an_endless_stream_is_cut_off_by_the_byte_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_PROBE_BYTES", 2 * 1024 * 1024)
    started = time.monotonic()
    assert video.probe_video(_Endless) is None  # type: ignore[arg-type]
    assert video.first_frame_png(_Endless, 10**8) is None  # type: ignore[arg-type]
    assert time.monotonic() - started < video.PROBE_SECONDS * 2 + 2


def test_the_reader_stops_at_its_limits() -> None:
    bounded = video._Bounded(io.BytesIO(b"x" * 100), max_bytes=10, seconds=60)
    assert bounded.read(8) == b"x" * 8
    assert bounded.read(8) == b"x" * 2
    with pytest.raises(video._Stop):
        bounded.read(1)
    late = video._Bounded(io.BytesIO(b"x" * 100), max_bytes=100, seconds=0)
    time.sleep(0.01)
    with pytest.raises(video._Stop):
        late.read(1)
