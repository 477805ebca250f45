"""The engine: parse a transformation, answer its ETag, render it once and keep it."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw

from mediavault.config import Settings
from mediavault.errors import TransformationLimit
from mediavault.media.transform import formats
from mediavault.media.transform.cache import CacheReport, RenditionCache
from mediavault.media.transform.inputs import Limits, Source
from mediavault.media.transform.named import THUMBNAIL, NamedTransformations
from mediavault.media.transform.params import Chain, parse_transformation

# Part of every cache key and ETag: bump it when the same chain starts producing other pixels,
# so that old renditions (on disk and in clients' caches) are not served for the new ones.
ENGINE_VERSION = "1"
_MEMO_MAX = 4096


@dataclass(frozen=True)
class Rendition:
    """What to send. `path` None: the stored bytes themselves, with the stored MIME type
    (`orig-true`, files that are not images, images that cannot be decoded)."""

    path: Path | None
    content_type: str | None
    etag: str  # quoted, ready for the ETag header
    vary_accept: bool  # the format was chosen from Accept: send `Vary: Accept`


class TransformEngine:
    def __init__(
        self,
        cache_root: Path,
        *,
        thumbnail_size: int = 200,
        max_input_pixels: int = 100_000_000,
        max_output_side: int = 16383,
        max_dpr: int = 5,
        auto_avif: bool = True,
        cache_bytes: int = 1024**3,
        named_file: Path | None = None,
        min_age: float = 120.0,
    ) -> None:
        root = cache_root / "renditions"
        self.cache = RenditionCache(root, cache_bytes, min_age=min_age)
        self.named = NamedTransformations.load(thumbnail_size, named_file)
        self.limits = Limits(max_input_pixels, max_output_side)
        self.max_dpr = max_dpr
        self.auto_avif = auto_avif
        self._thumbnail_size = thumbnail_size
        # A page's images repeat the same few `tr` values and Accept headers: parsing them
        # and hashing their cache keys once each keeps a warm rendition close to plain delivery.
        self._parsed: dict[str, Chain] = {}
        self._keys: dict[tuple[str, str | None], str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformEngine:
        return cls(
            settings.cache_root,
            thumbnail_size=settings.thumbnail_size,
            max_input_pixels=settings.transform_max_input_pixels,
            max_output_side=settings.transform_max_output_side,
            max_dpr=settings.transform_max_dpr,
            auto_avif=settings.transform_auto_avif,
            cache_bytes=settings.rendition_cache_bytes,
            named_file=settings.named_transformations_file,
        )

    def parse(self, text: str) -> Chain:
        """The chain of a `tr` value (percent-decoded; path and query chains joined with `:`).
        Raises BadTransformation (400) for anything that cannot be applied."""
        chain = self._parsed.get(text)
        if chain is None:
            chain = parse_transformation(text, self.named, self.max_dpr)
            if len(self._parsed) >= _MEMO_MAX:
                self._parsed.clear()
            self._parsed[text] = chain
        return chain

    def etag(
        self,
        chain: Chain,
        digest: str,
        accept: str | None,
        *,
        is_image: bool = True,
        video: bool = False,
    ) -> str:
        """The ETag `render` will give, computed without any I/O (for an early 304). A video's
        thumbnail (`video`, a placeholder chain) is the chain applied to its first frame."""
        is_image = is_image or (video and chain.placeholder)
        if chain.original or (not is_image and not chain.placeholder):
            return f'"{digest}"'
        if not is_image:
            return f'"placeholder-{self._thumbnail_size}"'
        return f'"{digest}-{self._key(chain, accept)[:20]}"'

    def render(
        self,
        chain: Chain,
        source: Source,
        digest: str,
        accept: str | None,
        *,
        is_image: bool = True,
        video: bool = False,
    ) -> Rendition:
        """The rendition of `chain` on the blob `digest`, from the cache or computed now.

        `source` is the blob's local path or a function opening a reader of it (only called on
        a cache miss). Blocking: run it in a worker thread. Raises BadTransformation (400) and
        TransformationLimit (400); a failure of the store while reading is raised as is.
        """
        etag = self.etag(chain, digest, accept, is_image=is_image, video=video)
        from_frame = video and chain.placeholder and not is_image
        is_image = is_image or from_frame
        vary = chain.auto_format and is_image
        if chain.original or (not is_image and not chain.placeholder):
            return Rendition(None, None, etag, False)
        if not is_image:
            return Rendition(self.placeholder(), "image/png", etag, False)
        policy = formats.negotiate(chain.output.format, accept, self.auto_avif)
        key = self._key(chain, accept)

        # Imported on first render: libvips is about 20 MB of a process that never transforms.
        from mediavault.media.transform import pipeline

        def produce(target: Path) -> str | None:
            if from_frame:
                frame = self._first_frame(source)
                if frame is None:
                    return None
                return pipeline.render(
                    chain, lambda: io.BytesIO(frame), target, policy, self.limits
                )
            return pipeline.render(chain, source, target, policy, self.limits)

        try:
            found = self.cache.get_or_create(digest, key, produce)
        except TransformationLimit:
            if not chain.placeholder:
                raise
            found = None  # a thumbnail is never refused: too large a picture gets the placeholder
        if found is None:
            if chain.placeholder:
                return Rendition(self.placeholder(), "image/png", etag, vary)
            return Rendition(None, None, etag, vary)
        path, ext = found
        return Rendition(path, formats.CONTENT_TYPES[ext], etag, vary)

    def cached(
        self,
        chain: Chain,
        digest: str,
        accept: str | None,
        *,
        is_image: bool = True,
        video: bool = False,
    ) -> Rendition | None:
        """The rendition if it is already in the cache, else None; a few stat calls, cheap
        enough for the event loop, so that a warm rendition needs no worker thread."""
        is_image = is_image or (video and chain.placeholder)
        if chain.original or not is_image:
            return None  # cheap either way, but render() decides those
        found = self.cache.lookup(digest, self._key(chain, accept))
        if found is None:
            return None
        path, ext = found
        etag = self.etag(chain, digest, accept, is_image=is_image)
        return Rendition(path, formats.CONTENT_TYPES[ext], etag, chain.auto_format)

    def _first_frame(self, source: Source) -> bytes | None:
        """A video's first frame as PNG (media/video.py: bounded in bytes, time and pixels)."""
        from mediavault.media.video import first_frame_png

        opener = (lambda: source.open("rb")) if isinstance(source, Path) else source
        return first_frame_png(opener, self.limits.max_input_pixels)

    # Blob lifecycle and the thumbnail shortcut.

    def thumbnail(
        self, digest: str, source: Callable[[], BinaryIO], is_image: bool
    ) -> tuple[Path, str]:
        """Path and content type of the `ik_ml_thumbnail` rendition (placeholder for files
        that are not pictures). Blocking."""
        rendition = self.render(self.named[THUMBNAIL], source, digest, None, is_image=is_image)
        if rendition.path is None or rendition.content_type is None:  # not for a placeholder chain
            return self.placeholder(), "image/png"
        return rendition.path, rendition.content_type

    def forget(self, digest: str) -> None:
        """Delete every rendition of a blob; call it when the blob is deleted."""
        self.cache.forget(digest)

    def check(
        self, known_digests: Collection[str] | None = None, repair: bool = False
    ) -> CacheReport:
        """For fsck: unknown files, half-written leftovers, renditions of deleted blobs."""
        return self.cache.check(known_digests, repair)

    def placeholder(self) -> Path:
        """A picture of a sheet of paper: the thumbnail of a file that is not an image."""
        size = self._thumbnail_size
        path = self.cache.root / f"placeholder-{size}.png"
        if not path.exists():
            image = Image.new("RGB", (size, size), (236, 238, 241))
            draw = ImageDraw.Draw(image)
            s = size
            page = [(s * 0.3, s * 0.2), (s * 0.6, s * 0.2), (s * 0.7, s * 0.3), (s * 0.7, s * 0.8)]
            draw.polygon([*page, (s * 0.3, s * 0.8)], fill=(255, 255, 255), outline=(150, 155, 165))
            draw.polygon(
                [(s * 0.6, s * 0.2), (s * 0.6, s * 0.3), (s * 0.7, s * 0.3)], fill=(200, 204, 210)
            )
            temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            image.save(temp, "PNG")
            os.replace(temp, path)
        return path

    def _key(self, chain: Chain, accept: str | None) -> str:
        memo = (chain.text, accept)
        key = self._keys.get(memo)
        if key is None:
            policy = formats.negotiate(chain.output.format, accept, self.auto_avif)
            material = f"{ENGINE_VERSION}\n{chain.text}\n{policy}"
            key = hashlib.sha256(material.encode()).hexdigest()[:32]
            if len(self._keys) >= _MEMO_MAX:
                self._keys.clear()
            self._keys[memo] = key
        return key
