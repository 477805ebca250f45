"""The metadata API (spec §4): a stored file's, or a URL's, dimensions, format, EXIF and pHash.

A URL of this server's delivery names a stored version (its plain URL, `ik-obj-version`, a
transformation) and is resolved without HTTP: the version's bytes, or with a transformation
the rendition, are analysed. Any other URL is downloaded into a staged blob through the same
guarded fetcher and limits as upload by URL (media/fetch.py), analysed, and discarded.
"""

from __future__ import annotations

import mimetypes
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from PIL import Image, UnidentifiedImageError

from mediavault.domain.models import ContentInfo, FileVersion, delivered
from mediavault.errors import InvalidRequest, TransformationLimit
from mediavault.media import metadata as exif
from mediavault.media.compare import phash
from mediavault.media.sniff import sniff_mime
from mediavault.media.transform.inputs import Limits, Source
from mediavault.serializers import video_fields
from mediavault.services import delivery
from mediavault.services.files import get_details
from mediavault.services.stores import Stores
from mediavault.storage.blobs import StagedBlob

CORRUPT = "The requested file is corrupt or invalid."
NOT_ACCESSIBLE = "The url should be accessible using your ImageKit.io account."
HEAD_BYTES = 4096
_IMAGE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


class CorruptFile(InvalidRequest):
    message = CORRUPT


def of_file(stores: Stores, file_id: str) -> dict[str, Any]:
    """The current version's metadata. Blocking: run it in a worker thread."""
    item = get_details(stores, file_id)
    return of_version(stores, item)


def of_version(stores: Stores, item: FileVersion) -> dict[str, Any]:
    content = item.version.content
    digest = content.digest
    local = stores.blobs.local_path(digest)
    if local is not None and not local.exists():
        raise delivery.missing_blob(delivered(item))
    source: Source = local if local is not None else (lambda: stores.blobs.open(digest))
    return analyse(source, content, stores.renditions.limits)


def of_rendition(path: Path, limits: Limits) -> dict[str, Any]:
    """A rendition made by the transformation engine: a picture file in the cache."""
    head = _head(path)
    content = ContentInfo("", path.stat().st_size, sniff_mime(head), "image")
    return analyse(path, content, limits)


def is_own_url(url: str, endpoint: str) -> bool:
    """Whether `url` is under this server's delivery endpoint (scheme, host, port and path)."""
    try:
        target, own = urlsplit(url), urlsplit(endpoint)
    except ValueError:
        return False
    return (
        target.scheme.lower() == own.scheme.lower()
        and target.netloc.lower() == own.netloc.lower()
        and (target.path + "/").startswith(own.path.rstrip("/") + "/")
    )


def delivery_scope(url: str, endpoint: str, prefix: str) -> dict[str, Any]:
    """The part of an ASGI scope that delivery's URL parser reads, for one of our own URLs:
    the path after the endpoint's, under the delivery prefix, as a request would carry it."""
    target = urlsplit(url)
    own_path = urlsplit(endpoint).path.rstrip("/")
    path = prefix + (target.path[len(own_path) :] or "/")
    raw = quote(path, safe="/:@!$&'()*+,;=-._~%")
    return {
        "raw_path": raw.encode("latin-1", "replace"),
        "path": path,
        "query_string": target.query.encode("latin-1", "replace"),
    }


def staged_content(staged: StagedBlob) -> ContentInfo:
    """What a downloaded file is, from its first bytes (it is analysed, never stored)."""
    return ContentInfo(staged.digest, staged.size, sniff_mime(staged.head), "")


def analyse(source: Source, content: ContentInfo, limits: Limits) -> dict[str, Any]:
    """The Metadata object (spec §4.2) of the bytes `source` opens. Blocking."""
    opener = _opener(source)
    body: dict[str, Any] = {"size": content.size}
    image = _image_facts(opener)
    if image is not None:
        body.update(image)
        hashed = _phash(source, limits)
        if hashed is not None:
            body["pHash"] = hashed
        return body
    if content.mime.startswith("image/") and content.mime != "image/svg+xml":
        raise CorruptFile()
    if content.mime.startswith("video/"):
        from mediavault.media.video import probe_video

        video = probe_video(opener)
        if video is None:
            raise CorruptFile()
        probed = ContentInfo(
            content.digest, content.size, content.mime, "non-image", video.width, video.height,
            duration=video.duration, video_codec=video.video_codec,
            audio_codec=video.audio_codec, bit_rate=video.bit_rate,
        )  # fmt: skip
        if video.width is not None and video.height is not None:
            body.update(height=video.height, width=video.width)
        body["format"] = _format_of(content.mime)
        body.update(video_fields(probed))
        return body
    body["format"] = _format_of(content.mime)
    return body


def _image_facts(opener: Callable[[], BinaryIO]) -> dict[str, Any] | None:
    try:
        with warnings.catch_warnings(), opener() as stream:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                width, height = image.size
                return {
                    "height": height,
                    "width": width,
                    "format": exif.format_name(image),
                    "hasColorProfile": bool(image.info.get("icc_profile")),
                    "quality": exif.quality_estimate(image),
                    "density": exif.density(image),
                    "hasTransparency": exif.has_transparency(image),
                    "exif": exif.exif_groups(image),
                }
    except _IMAGE_ERRORS:
        return None


def _phash(source: Source, limits: Limits) -> str | None:
    try:
        return phash(source, limits)
    except TransformationLimit:
        return None


def _opener(source: Source) -> Callable[[], BinaryIO]:
    if isinstance(source, Path):
        path = source
        return lambda: path.open("rb")
    return source


def _head(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(HEAD_BYTES)


def _format_of(mime: str) -> str:
    extension = mimetypes.guess_extension(mime) or ""
    name = extension.lstrip(".") or mime.rpartition("/")[2]
    return {"jpeg": "jpg", "jpe": "jpg", "qt": "mov"}.get(name, name)
