"""Output formats: `f-auto` negotiation from the Accept header, and the encoders' options.

`negotiate` runs before anything is decoded: it turns the chain's `f` and the request's Accept
header into a *policy*, which keys the rendition cache and the ETag. `concrete` turns a policy
into the format actually written, once the source's format, animation and the result's alpha
are known; it depends on nothing else, so one policy always yields one format for given bytes.

`f-auto` (the default): AVIF if the request accepts it (and MEDIAVAULT_TRANSFORM_AUTO_AVIF is
on) and the image is not animated, else WebP if accepted, else the original's format. Only an
explicit `image/avif` / `image/webp` in Accept counts (q > 0); `*/*` and `image/*` do not
(spec §1.8). The original's format is kept when browsers display it and libvips writes it
(JPEG, PNG, WebP, GIF, AVIF); other sources (TIFF, HEIC, BMP, ...) become JPEG, or PNG when the
result has transparency, which also turns a JPEG with rounded corners into a PNG. SVG stays SVG
(the stored bytes) unless `f-png`/`f-jpg`/`f-webp`/`f-avif` asks for pixels.
"""

from __future__ import annotations

from typing import Any

from mediavault.media.transform.params import DEFAULT_QUALITY, FLAT, Output

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
    "gif": "image/gif",
}
EXTENSIONS = tuple(CONTENT_TYPES)
# Source formats (the loader's name) that are kept as they are under f-auto and f-orig.
KEPT = frozenset({"jpg", "png", "webp", "gif", "avif"})
ANIMATABLE = frozenset({"gif", "webp"})
WITH_ALPHA = frozenset({"png", "webp", "avif", "gif"})
# JPEGs up to this size get optimized Huffman tables (save_options).
OPTIMIZE_MAX_PIXELS = 4_000_000
# WebP cannot be larger than this on either side.
WEBP_MAX_SIDE = 16383
AUTO = "auto"
AUTO_WEBP = "auto-webp"
AUTO_AVIF = "auto-avif"


def negotiate(requested: str, accept: str | None, avif: bool = True) -> str:
    """The policy for format `requested` (Output.format) under this Accept header."""
    if requested != AUTO:
        return requested
    accepted = accepted_types(accept)
    if avif and "image/avif" in accepted:
        return AUTO_AVIF
    if "image/webp" in accepted:
        return AUTO_WEBP
    return AUTO


def accepted_types(accept: str | None) -> set[str]:
    """The media types an Accept header names explicitly with a non-zero quality."""
    types = set()
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media.lower())
    return types


def keeps_animation(policy: str, source: str) -> bool:
    """Whether an animated source stays animated under `policy` (else: its first frame)."""
    if policy in ("gif", "webp", AUTO_WEBP, AUTO_AVIF):
        return True
    return policy in (AUTO, "orig") and source in ANIMATABLE


def keeps_vector(policy: str) -> bool:
    """Whether an SVG source is served as its stored bytes under `policy`."""
    return policy in (AUTO, AUTO_WEBP, AUTO_AVIF, "orig", "svg")


def concrete(
    policy: str, source: str, *, animated: bool, alpha: bool, size: tuple[int, int]
) -> str:
    """The format written for `policy`, given the source's format (`jpg`, `png`, `tiff`, ...)."""
    if policy in EXTENSIONS:
        return policy
    if policy == AUTO_AVIF and not animated:
        return "avif"
    if policy in (AUTO_AVIF, AUTO_WEBP) and max(size) <= WEBP_MAX_SIDE:
        return "webp"
    if policy != FLAT and source in KEPT and (alpha is False or source in WITH_ALPHA):
        return source
    return "png" if alpha else "jpg"


def save_options(fmt: str, output: Output, pixels: int = 0) -> dict[str, Any]:
    """Keyword arguments of libvips' `<fmt>save` for the chain's output options.

    Metadata is never copied (`keep="none"`): pixels are converted to sRGB before encoding, so
    nothing is lost, and no EXIF (GPS position, camera serial) leaks into renditions.
    """
    quality = output.quality or DEFAULT_QUALITY
    if fmt == "jpg":
        # Optimized Huffman tables save a few percent but make libjpeg hold every coefficient
        # of the image (140 MB and three times the time for 24 megapixels): small images only.
        optimize = pixels <= OPTIMIZE_MAX_PIXELS
        if output.lossless:
            return {"Q": 100, "subsample_mode": "off", "keep": "none", "optimize_coding": optimize}
        return {
            "Q": quality,
            "interlace": output.progressive,
            "optimize_coding": optimize,
            "keep": "none",
        }
    if fmt == "png":
        return {"compression": 6, "interlace": output.progressive, "keep": "none"}
    if fmt == "webp":
        return {"Q": quality, "lossless": output.lossless, "effort": 4, "keep": "none"}
    if fmt == "avif":
        return {
            "Q": quality,
            "lossless": output.lossless,
            "compression": "av1",
            "effort": 2,
            "keep": "none",
        }
    return {"keep": "none"}  # gif


SAVERS = {
    "jpg": "jpegsave",
    "png": "pngsave",
    "webp": "webpsave",
    "avif": "heifsave",
    "gif": "gifsave",
}
