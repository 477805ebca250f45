"""Probe stored bytes for MIME type and image facts; the client's word is never trusted."""

from __future__ import annotations

import warnings
from pathlib import Path

import magic
from PIL import Image, UnidentifiedImageError

from mediavault.domain.models import ContentInfo

# Probing reads headers only, so a huge pixel count costs nothing here; thumbnails check it.
_PROBE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


def probe(path: Path, head: bytes, digest: str, size: int) -> ContentInfo:
    mime = _sniff_mime(head)
    image = _probe_image(path)
    if image is not None:
        image_mime, width, height, has_alpha = image
        return ContentInfo(digest, size, image_mime or mime, "image", width, height, has_alpha)
    file_type = "image" if mime.startswith("image/") else "non-image"
    return ContentInfo(digest, size, mime, file_type)


def _sniff_mime(head: bytes) -> str:
    if not head:
        return "application/octet-stream"
    mime = magic.from_buffer(head, mime=True)
    return str(mime) if mime else "application/octet-stream"


def _probe_image(path: Path) -> tuple[str | None, int, int, bool] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                has_alpha = "A" in image.getbands() or "transparency" in image.info
                return Image.MIME.get(image.format or ""), width, height, has_alpha
    except _PROBE_ERRORS:
        return None
