"""MIME sniffing and probing: the types every test upload gets, pinned, without libmagic.

The expected types are those libmagic gave for the same bytes before the pure-Python detector
replaced it; delivery relies on HTML, XML and SVG being told apart (active content).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from mediavault.media.probe import probe
from mediavault.media.sniff import sniff_mime

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free\x00\x00\x00\x08mdat"
WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webmB\x87\x81\x04B\x85\x81\x02"
WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00\x88X\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00"

# Bytes the test suite uploads (and common formats beside them), with libmagic's answer.
SNIFFED = [
    (PDF, "application/pdf"),
    (PAGE, "text/html"),
    (b"<html><head><title>x</title></head><body>hi</body></html>", "text/html"),
    (b"\n  <!doctype html>\n<html><body>x</body></html>", "text/html"),
    (b"<!-- generated --><html><body></body></html>", "text/html"),
    (b"\xef\xbb\xbf<html><body>x</body></html>", "text/html"),
    (b"<script>alert(1)</script>", "text/html"),
    (b'<a href="x">x</a>', "text/html"),
    (SVG, "image/svg+xml"),
    (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        "image/svg+xml",
    ),
    (b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg></svg>', "image/svg+xml"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE svg [ <!ENTITY a "<b>"> ]>\n<svg/>', "image/svg+xml"),
    (b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    (b'<?xml version="1.0"?>\n<note><to>a</to></note>', "text/xml"),
    (
        b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
        "text/xml",
    ),
    (b"\xef\xbb\xbf<?xml version='1.0'?><a/>", "text/xml"),
    (b"hello" * 1000, "text/plain"),
    (b"just some text", "text/plain"),
    (b"abc", "text/plain"),
    (b"other bytes", "text/plain"),
    (b"upload 0", "text/plain"),
    ("héllo wörld ünïcode".encode(), "text/plain"),
    (b"caf\xe9 au lait", "text/plain"),  # Latin-1
    (b"line1\r\nline2\r\n", "text/plain"),
    (b"\xff\xfeh\x00i\x00", "text/plain"),  # UTF-16 with its byte-order mark
    (b"<note><to>a</to></note>", "text/plain"),  # markup of no known kind, undeclared
    (b'{"a": 1}', "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"a": ', "text/plain"),
    (b"[" * 100_000, "text/plain"),  # nesting deeper than the JSON parser's recursion
    (b"", "application/octet-stream"),
    (b"a\x00b", "application/octet-stream"),
    (bytes(range(256)) * 4, "application/octet-stream"),
    (b"\x00" * 100, "application/octet-stream"),
    (MP4, "video/mp4"),
    (WEBM, "video/webm"),
    (WAV, "audio/x-wav"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "application/gzip"),
    (b"%!PS-Adobe-3.0\n", "application/postscript"),
]

# Text that merely starts like a binary signature is text, as libmagic has it.
SIGNATURE_LOOKALIKES = [b"BMW is a car maker", b"GIFs are fun", b"ID3 tags", b"MZ is a prefix"]


@pytest.mark.parametrize(("content", "mime"), SNIFFED, ids=lambda v: repr(v)[:40])
def test_sniffed_types(content: bytes, mime: str) -> None:
    assert sniff_mime(content) == mime


@pytest.mark.parametrize("content", SIGNATURE_LOOKALIKES)
def test_text_with_a_binary_prefix_stays_text(content: bytes) -> None:
    assert sniff_mime(content) == "text/plain"


def _probe(content: bytes) -> tuple[str, str, int | None, int | None, bool | None]:
    info = probe(lambda: io.BytesIO(content), content, "0" * 64, len(content))
    return info.mime, info.file_type, info.width, info.height, info.has_alpha


@pytest.mark.parametrize(
    ("fmt", "color", "mime", "alpha"),
    [
        ("JPEG", (200, 30, 30), "image/jpeg", False),
        ("PNG", (200, 30, 30), "image/png", False),
        ("PNG", (1, 2, 3, 4), "image/png", True),
        ("GIF", (200, 30, 30), "image/gif", False),
        ("WEBP", (200, 30, 30), "image/webp", False),
        ("BMP", (200, 30, 30), "image/bmp", False),
        ("TIFF", (200, 30, 30), "image/tiff", False),
    ],
)
def test_images_get_type_and_dimensions_from_their_bytes(
    make_image: Callable[..., bytes], fmt: str, color: tuple[int, ...], mime: str, alpha: bool
) -> None:
    content = make_image(40, 30, fmt, color)
    assert sniff_mime(content) == mime
    assert _probe(content) == (mime, "image", 40, 30, alpha)


def test_svg_is_an_image_without_dimensions_and_pages_are_not_images() -> None:
    assert _probe(SVG) == ("image/svg+xml", "image", None, None, None)
    assert _probe(PAGE) == ("text/html", "non-image", None, None, None)
    assert _probe(PDF) == ("application/pdf", "non-image", None, None, None)


def test_sniffing_loads_no_libmagic() -> None:
    # A fresh machine has no libmagic: importing and running the prober must not need it.
    script = (
        "import sys; sys.modules['magic'] = None\n"
        "from mediavault.media.probe import probe\n"
        "from mediavault.media.sniff import sniff_mime\n"
        "assert sniff_mime(b'<svg/>') == 'image/svg+xml'\n"
        "maps = open('/proc/self/maps').read()\n"
        "assert 'libmagic' not in maps, 'libmagic is loaded'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
