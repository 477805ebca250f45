"""Probe stored bytes for MIME type and image facts; the client's word is never trusted.

A picture's embedded metadata (EXIF, IPTC) is read from the same opened header; a video's
facts come from PyAV (media/video.py), only for bytes whose signature says video."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from mediavault.domain.models import ContentInfo, JsonObject
from mediavault.media.metadata import embedded_metadata
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
    # Only what its first bytes say is a picture is opened as one: every format a media
    # library takes (JPEG to AVIF, HEIC, PSD, ICO) has a signature sniff_mime knows, while
    # Pillow, given anything else, loads and tries all 51 of its format plugins (3.3 MB in each
    # worker, and CPU on every upload of a video, a PDF or a text).
    image = _probe_image(source) if mime.startswith("image/") else None
    if image is not None:
        image_mime, width, height, has_alpha, embedded = image
        return ContentInfo(
            digest, size, image_mime or mime, "image", width, height, has_alpha, embedded
        )
    if mime.startswith("video/"):
        from mediavault.media.video import probe_video  # PyAV only for videos

        video = probe_video(source)
        if video is not None:
            return ContentInfo(
                digest, size, mime, "non-image", video.width, video.height,
                duration=video.duration, video_codec=video.video_codec,
                audio_codec=video.audio_codec, bit_rate=video.bit_rate,
            )  # fmt: skip
    file_type = "image" if mime.startswith("image/") else "non-image"
    return ContentInfo(digest, size, mime, file_type)


def _probe_image(
    source: Callable[[], BinaryIO],
) -> tuple[str | None, int, int, bool, JsonObject | None] | None:
    try:
        with warnings.catch_warnings(), source() as stream:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                has_alpha = "A" in image.getbands() or "transparency" in image.info
                embedded = embedded_metadata(image)
                return Image.MIME.get(image.format or ""), width, height, has_alpha, embedded
    except _PROBE_ERRORS:
        return None
