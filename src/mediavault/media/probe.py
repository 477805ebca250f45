"""Probe stored bytes for MIME type and image facts; the client's word is never trusted."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from mediavault.domain.models import ContentInfo
from mediavault.media.sniff import sniff_mime

# Probing reads headers only, so a huge pixel count costs nothing here; thumbnails check it.
_PROBE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


def probe(source: Callable[[], BinaryIO], head: bytes, digest: str, size: int) -> ContentInfo:
    """What the bytes are; `source` opens them (a seekable reader, local or remote)."""
    mime = sniff_mime(head)
    image = _probe_image(source)
    if image is not None:
        image_mime, width, height, has_alpha = image
        return ContentInfo(digest, size, image_mime or mime, "image", width, height, has_alpha)
    file_type = "image" if mime.startswith("image/") else "non-image"
    return ContentInfo(digest, size, mime, file_type)


def _probe_image(source: Callable[[], BinaryIO]) -> tuple[str | None, int, int, bool] | None:
    try:
        with warnings.catch_warnings(), source() as stream:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                has_alpha = "A" in image.getbands() or "transparency" in image.info
                return Image.MIME.get(image.format or ""), width, height, has_alpha
    except _PROBE_ERRORS:
        return None
