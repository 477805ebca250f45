"""Thumbnails for the `ik_ml_thumbnail` named transformation, generated once per blob.

Keyed by blob digest, so every version with the same bytes shares one thumbnail, and a blob's
thumbnail goes when the blob goes.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageOps

# Decoding more pixels than this for a thumbnail could take gigabytes; such images get the
# placeholder instead. (JPEGs decode at 1/8 scale through draft mode, far below this.)
MAX_SOURCE_PIXELS = 100_000_000


class ThumbnailCache:
    def __init__(self, root: Path, size: int) -> None:
        self._root = root / "thumbnails"
        self._root.mkdir(parents=True, exist_ok=True)
        self._size = size

    def thumbnail(
        self, digest: str, source: Callable[[], BinaryIO], is_image: bool
    ) -> tuple[Path, str]:
        """Path and content type of the thumbnail; creates it on first use. Blocking."""
        for extension, content_type in ((".jpg", "image/jpeg"), (".png", "image/png")):
            cached = self._path(digest, extension)
            if cached.exists():
                return cached, content_type
        if is_image:
            made = self._render(digest, source)
            if made is not None:
                return made
        return self.placeholder(), "image/png"

    def placeholder(self) -> Path:
        path = self._root / f"placeholder-{self._size}.png"
        if not path.exists():
            image = Image.new("RGB", (self._size, self._size), (236, 238, 241))
            draw = ImageDraw.Draw(image)
            s = self._size
            # A sheet of paper with a folded corner: "a file we cannot picture".
            page = [(s * 0.3, s * 0.2), (s * 0.6, s * 0.2), (s * 0.7, s * 0.3), (s * 0.7, s * 0.8)]
            draw.polygon([*page, (s * 0.3, s * 0.8)], fill=(255, 255, 255), outline=(150, 155, 165))
            draw.polygon(
                [(s * 0.6, s * 0.2), (s * 0.6, s * 0.3), (s * 0.7, s * 0.3)], fill=(200, 204, 210)
            )
            self._save_atomically(image, path, "PNG")
        return path

    def forget(self, digest: str) -> None:
        for extension in (".jpg", ".png"):
            self._path(digest, extension).unlink(missing_ok=True)

    def _render(self, digest: str, source: Callable[[], BinaryIO]) -> tuple[Path, str] | None:
        try:
            with warnings.catch_warnings(), source() as stream:
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(stream) as image:
                    too_big = image.width * image.height > MAX_SOURCE_PIXELS
                    if too_big and image.format != "JPEG":
                        return None
                    image.draft("RGB", (self._size, self._size))
                    picture = ImageOps.exif_transpose(image)
                    has_alpha = "A" in picture.getbands() or "transparency" in picture.info
                    picture = picture.convert("RGBA" if has_alpha else "RGB")
                    picture.thumbnail((self._size, self._size))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None
        if has_alpha:
            path = self._path(digest, ".png")
            self._save_atomically(picture, path, "PNG")
            return path, "image/png"
        path = self._path(digest, ".jpg")
        self._save_atomically(picture, path, "JPEG", quality=80)
        return path, "image/jpeg"

    def _path(self, digest: str, extension: str) -> Path:
        return self._root / digest[:2] / f"{digest}{extension}"

    @staticmethod
    def _save_atomically(image: Image.Image, path: Path, fmt: str, **options: int) -> None:
        # Concurrent requests may render the same thumbnail; each writes its own temp file and
        # the rename makes one of them win whole.
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        image.save(temp, fmt, **options)
        os.replace(temp, path)
