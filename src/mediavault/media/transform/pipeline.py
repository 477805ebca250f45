"""Execution of a chain with libvips (pyvips): decode, apply the steps, encode to a file.

Order of work:
1. The header only (libvips reads it lazily) gives the format, the upright size, the frame
   count and alpha. An input above MEDIAVAULT_TRANSFORM_MAX_INPUT_PIXELS (all frames of a kept
   animation together) is refused here, before a single pixel is decoded.
2. The image is decoded with `thumbnail_source`, straight to the size the first step scales to
   when it can: JPEG, WebP, HEIF/AVIF and SVG then decode at a reduced size (shrink-on-load).
   EXIF orientation is applied here, always: renditions carry no metadata, so they must be
   upright themselves (`rt-auto` is therefore accepted and adds nothing).
3. The steps run left to right. Within a step, in this fixed order: trim (`t`), resize, crop
   and pad (`w`, `h`, `ar`, `dpr`, `c`, `cm`, `fo`, `x`, `y`, `xc`, `yc`, `bg`), rotate (`rt`),
   flip (`fl`), blur (`bl`), grayscale (`e-grayscale`), rounded corners (`r`), border (`b`).
   Each step's sizes are checked against MEDIAVAULT_TRANSFORM_MAX_OUTPUT_SIDE and the pixel
   limit before it runs.
4. The result is written to the target file by libvips' encoder for the concrete format.

libvips evaluates lazily and streams: with sequential access a resize or crop never holds the
whole image. Steps that need random access (rotation, vertical flip, trim, saliency focus,
blurred/dominant backgrounds, animations) make it hold the decoded image, which the pixel limit
bounds.

Animated GIF and WebP stay animated when the output format can animate (GIF, WebP; see
formats.py): every step runs on each frame with the same geometry (`fo-auto` crops animations
at the centre; `t` trims every frame by the first frame's border). AVIF, JPEG and PNG outputs
take the first frame.

Sources libvips does not read (BMP, ICO, PSD and the rest of Pillow's formats) are decoded by
Pillow within the same pixel limit. Only the loaders listed in LOADERS are ever allowed to
libvips. What neither can picture, and bytes that fail to decode, give `None`: the caller
serves the stored bytes (or the thumbnail placeholder). Failures of the store while reading
are raised as they are, never taken for bad images.
"""

from __future__ import annotations

import collections
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyvips
from PIL import Image, ImageOps, UnidentifiedImageError

from mediavault.errors import BadTransformation, TransformationLimit
from mediavault.media.transform import formats, geometry
from mediavault.media.transform.colours import BLACK, WHITE, Colour
from mediavault.media.transform.inputs import Limits, Source
from mediavault.media.transform.params import Background, Chain, Step

log = logging.getLogger("mediavault")

# libvips loaders allowed on stored bytes, and the format name each one stands for.
LOADERS = {
    "jpegload": ("jpg", "VipsForeignLoadJpeg"),
    "pngload": ("png", "VipsForeignLoadPng"),
    "webpload": ("webp", "VipsForeignLoadWebp"),
    "gifload": ("gif", "VipsForeignLoadNsgif"),
    "heifload": ("heif", "VipsForeignLoadHeif"),
    "tiffload": ("tiff", "VipsForeignLoadTiff"),
    "svgload": ("svg", "VipsForeignLoadSvg"),
}
# Every other loader (the native .v format, CSV, matrix, ...) is blocked for the process.
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoad", True)
for _format, _class in LOADERS.values():
    pyvips.operation_block_set(_class, False)
# Each render reads new bytes: libvips' operation cache would only hold on to memory.
pyvips.cache_set_max(0)

# The blur `bg-blurred` applies when its amount is `auto`, on the 0-100 scale.
AUTO_BACKGROUND_BLUR = 20
_PILLOW_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError)


@dataclass(frozen=True)
class Header:
    format: str  # jpg, png, webp, gif, avif, heic, tiff, svg, or "other" (Pillow)
    width: int  # upright
    height: int  # upright; one frame's height for animations
    frames: int
    icc: bool


class _Input:
    """pyvips sources over a path or a reader factory; remembers the reader's own failures."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._readers: list[BinaryIO] = []
        # libvips calls back into these while the image is evaluated, long after open():
        # they must stay alive until close(), or the callbacks land on freed objects.
        self._sources: list[pyvips.Source] = []
        self.failure: BaseException | None = None

    def open(self) -> pyvips.Source:
        if isinstance(self._source, Path):
            return pyvips.Source.new_from_file(str(self._source))
        reader = self._source()
        self._readers.append(reader)
        custom = pyvips.SourceCustom()
        custom.on_read(lambda size: self._guard(lambda: reader.read(size), None))
        custom.on_seek(lambda offset, whence: self._guard(lambda: reader.seek(offset, whence), -1))
        self._sources.append(custom)
        return custom

    def open_binary(self) -> BinaryIO:
        if isinstance(self._source, Path):
            return self._source.open("rb")
        return self._source()

    def _guard(self, call: Callable[[], Any], failed: Any) -> Any:
        # An exception must not cross libvips: it is kept, libvips sees an end or an error,
        # and `raise_failure` raises it once libvips has returned.
        try:
            return call()
        except BaseException as exc:
            self.failure = self.failure or exc
            return failed

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self._sources.clear()


def render(chain: Chain, source: Source, target: Path, policy: str, limits: Limits) -> str | None:
    """Write the rendition of `chain` on `source` at `target`; return its format (an extension
    of formats.CONTENT_TYPES), or None when the stored bytes are the answer (see module doc)."""
    source_input = _Input(source)
    try:
        return _render(chain, source_input, target, policy, limits)
    except pyvips.Error as exc:
        source_input.raise_failure()
        log.warning("image could not be transformed (%s): %s", chain.text, str(exc).strip())
        return None
    finally:
        source_input.close()


def upright_size(source: Source, limits: Limits) -> tuple[int, int] | None:
    """The upright size of a picture's first frame, or None for bytes that are not one.
    Raises TransformationLimit above the pixel limit (media/compare.py)."""
    source_input = _Input(source)
    try:
        header = _header(source_input)
        source_input.raise_failure()
        if header is None:
            _, header = _pillow(source_input, limits)
            if header is None:
                return None
        _check_input(header.width, header.height, limits)
        return header.width, header.height
    finally:
        source_input.close()


def decode_upright(source: Source, size: tuple[int, int], limits: Limits) -> pyvips.Image | None:
    """A picture's first frame, upright, 8-bit sRGB (alpha kept), at exactly `size` and held
    in memory; None for bytes that are not a picture (media/compare.py)."""
    source_input = _Input(source)
    try:
        header = _header(source_input)
        source_input.raise_failure()
        image: pyvips.Image | None
        if header is None:
            image, header = _pillow(source_input, limits)
            if image is None or header is None:
                return None
        else:
            _check_input(header.width, header.height, limits)
            image = _load(source_input, header, size, animated=False)
        image = _to_srgb(image)
        if (image.width, image.height) != size:
            image = _resize(image, size)
        image = image.copy_memory()
        source_input.raise_failure()
        return image
    except pyvips.Error as exc:
        source_input.raise_failure()
        log.warning("image could not be decoded for a comparison: %s", str(exc).strip())
        return None
    finally:
        source_input.close()


def _render(chain: Chain, source: _Input, target: Path, policy: str, limits: Limits) -> str | None:
    header = _header(source)
    source.raise_failure()
    if header is not None and header.format == "svg" and formats.keeps_vector(policy):
        return None
    if policy == "svg":
        raise BadTransformation("f-svg needs an SVG image")
    image: pyvips.Image | None = None
    animated = False
    if header is None:
        image, header = _pillow(source, limits)
        if image is None or header is None:
            return None
    else:
        animated = header.frames > 1 and formats.keeps_animation(policy, header.format)
    frames = header.frames if animated else 1
    _check_input(header.width, header.height * frames, limits)
    steps = list(chain.steps)
    first: geometry.Plan | None = None
    if steps and steps[0].trim is None:
        first = geometry.plan_step(header.width, header.height, steps[0])
        geometry.check_limits(first, limits.max_output_side, limits.max_input_pixels, frames)
    if image is None:
        image = _load(source, header, first.resize if first else None, animated)
    source.raise_failure()
    image = _to_srgb(image)
    if first is not None and (image.width, image.height // frames) != first.resize:
        image = _resize(image, first.resize)  # decoded by Pillow, at full size
    if animated or _random_access(steps):
        image = image.copy_memory()
        source.raise_failure()
    page_height = header.height if first is None else first.resize[1]
    for index, step in enumerate(steps):
        planned = first if index == 0 else None
        image = _apply(image, step, planned, page_height if animated else None, limits)
        if animated:
            page_height = int(cast(int, image.get("page-height")))
    return _save(image, chain, header, policy, target, animated, source)


def _header(source: _Input) -> Header | None:
    try:
        image = pyvips.Image.new_from_source(source.open(), "", access="sequential")
    except pyvips.Error:
        return None
    fields = set(image.get_fields())
    loader = str(image.get("vips-loader")).removesuffix("_source")
    if loader not in LOADERS:
        return None
    fmt = LOADERS[loader][0]
    if fmt == "heif":
        compression = image.get("heif-compression") if "heif-compression" in fields else ""
        fmt = "avif" if compression == "av1" else "heic"
    width, height = int(image.width), int(image.height)
    if "orientation" in fields and int(cast(int, image.get("orientation"))) in (5, 6, 7, 8):
        width, height = height, width
    frames = int(cast(int, image.get("n-pages"))) if "n-pages" in fields else 1
    icc = "icc-profile-data" in fields
    return Header(fmt, width, height, max(1, frames), icc)


def _check_input(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_input_pixels:
        raise TransformationLimit(
            f"the image has {width * height} pixels; at most {limits.max_input_pixels} "
            "are transformed"
        )


def _load(
    source: _Input, header: Header, size: tuple[int, int] | None, animated: bool
) -> pyvips.Image:
    """Decode upright, straight at `size` (shrink-on-load) when the first step scales."""
    width, height = size or (header.width, header.height)
    options: dict[str, Any] = {"height": height, "size": "force"}
    if animated:
        options["option_string"] = "n=-1"
    if header.icc:
        options["output_profile"] = "srgb"
    return pyvips.Image.thumbnail_source(source.open(), width, **options)


def _pillow(source: _Input, limits: Limits) -> tuple[pyvips.Image | None, Header | None]:
    """Formats libvips does not read, decoded by Pillow (first frame, upright)."""
    try:
        with warnings.catch_warnings(), source.open_binary() as stream:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as picture:
                width, height = picture.size
                _check_input(width, height, limits)
                upright = ImageOps.exif_transpose(picture)
                alpha = "A" in upright.getbands() or "transparency" in upright.info
                upright = upright.convert("RGBA" if alpha else "RGB")
                data = upright.tobytes()
                width, height = upright.size
    except Image.DecompressionBombError:
        # Pillow's own bomb check (beyond 2 x Image.MAX_IMAGE_PIXELS) fired before ours could.
        raise TransformationLimit(
            f"the image has more pixels than the {limits.max_input_pixels} that are transformed"
        ) from None
    except _PILLOW_ERRORS:
        source.raise_failure()
        return None, None
    bands = 4 if alpha else 3
    image = pyvips.Image.new_from_memory(data, width, height, bands, "uchar")
    image = image.copy(interpretation="srgb")
    return image, Header("other", width, height, 1, False)


def _to_srgb(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB (with alpha if any): every step works on that."""
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
        if image.format != "uchar":
            image = image.cast("uchar")
    return image


def _random_access(steps: list[Step]) -> bool:
    for step in steps:
        if step.trim is not None or step.focus == "auto" or step.flip in ("v", "h_v"):
            return True
        if step.rotation not in (None, "auto"):
            return True
        if step.background is not None and step.background.kind != "colour":
            return True
    return False


def _apply(
    image: pyvips.Image,
    step: Step,
    planned: geometry.Plan | None,
    page_height: int | None,
    limits: Limits,
) -> pyvips.Image:
    """One step; for an animation, on each frame alike."""
    frames = _split(image, page_height)
    frames = [_to_srgb(f) for f in frames]
    if step.trim is not None:
        frames = _trim(frames, step.trim)
    plan = planned
    if plan is None:
        plan = geometry.plan_step(frames[0].width, frames[0].height, step)
        geometry.check_limits(plan, limits.max_output_side, limits.max_input_pixels, len(frames))
        if plan.resize != (frames[0].width, frames[0].height):
            frames = [_resize(f, plan.resize) for f in frames]
    frames = [_canvas(f, plan, step.background, animated=len(frames) > 1) for f in frames]
    fill = step.background.colour if step.background else None
    frames = [_effects(f, step, fill) for f in frames]
    width, height = frames[0].width, frames[0].height
    geometry.check_size(width, height, limits.max_output_side, limits.max_input_pixels, len(frames))
    return _join(frames) if page_height is not None else frames[0]


def _split(image: pyvips.Image, page_height: int | None) -> list[pyvips.Image]:
    if page_height is None or page_height >= image.height:
        return [image]
    count = image.height // page_height
    return [image.crop(0, i * page_height, image.width, page_height) for i in range(count)]


def _join(frames: list[pyvips.Image]) -> pyvips.Image:
    joined = pyvips.Image.arrayjoin(frames, across=1) if len(frames) > 1 else frames[0]
    joined = joined.copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    return joined


def _trim(frames: list[pyvips.Image], threshold: int) -> list[pyvips.Image]:
    first = frames[0]
    if min(first.width, first.height) < 3:
        return frames  # nothing to trim, and too small for libvips' median window
    corner = [float(v) for v in first.getpoint(0, 0)][:3]
    left, top, width, height = first.find_trim(threshold=threshold, background=corner)
    if width <= 0 or height <= 0 or (width, height) == (first.width, first.height):
        return frames
    return [f.crop(left, top, width, height) for f in frames]


def _resize(image: pyvips.Image, size: tuple[int, int]) -> pyvips.Image:
    # thumbnail_image premultiplies alpha and lands on exactly the size asked.
    return image.thumbnail_image(size[0], height=size[1], size="force", no_rotate=True)


def _canvas(
    image: pyvips.Image, plan: geometry.Plan, background: Background | None, animated: bool
) -> pyvips.Image:
    (width, height), (left, top) = plan.canvas, plan.offset
    if plan.smart:
        if not animated and (width, height) != (image.width, image.height):
            return image.smartcrop(width, height, interesting="attention")
        left = -((image.width - width) // 2)
        top = -((image.height - height) // 2)
    if (width, height) == (image.width, image.height) and (left, top) == (0, 0):
        return image
    if not geometry.Plan((image.width, image.height), plan.canvas, (left, top)).pads:
        return image.crop(-left, -top, width, height)
    if background is not None and background.kind == "blurred":
        return _on_blurred(image, plan.canvas, (left, top), background)
    colour = background.colour if background is not None else None
    if background is not None and background.kind == "dominant":
        colour = _dominant(image)
    image, fill = _fill(image, colour)
    return image.embed(left, top, width, height, extend="background", background=fill)


def _fill(image: pyvips.Image, colour: Colour | None) -> tuple[pyvips.Image, list[float]]:
    """The image ready to be extended with `colour`, and the colour as its bands want it.

    No colour: transparent for an image with alpha, black (ImageKit's default) otherwise.
    """
    if colour is None:
        colour = Colour(0, 0, 0, 0) if image.hasalpha() else BLACK
    grey = image.bands - (1 if image.hasalpha() else 0) == 1
    if grey and not colour.is_grey:
        image, grey = image.colourspace("srgb"), False
    if not colour.opaque and not image.hasalpha():
        image = image.addalpha()
    values = [float(colour.red)] if grey else colour.rgb
    if image.hasalpha():
        values.append(float(colour.alpha))
    return image, values


def _on_blurred(
    image: pyvips.Image, canvas: tuple[int, int], offset: tuple[int, int], background: Background
) -> pyvips.Image:
    """`bg-blurred`: the image, scaled to cover the canvas and blurred, behind itself."""
    width, height = canvas
    behind = image.thumbnail_image(width, height=height, crop="centre", size="force")
    amount = AUTO_BACKGROUND_BLUR if background.blur is None else background.blur
    if amount > 0:
        behind = behind.gaussblur(amount / 2)
    if background.brightness:
        behind = (behind + background.brightness).cast("uchar")
    if image.hasalpha():
        return behind.composite2(image, "over", x=offset[0], y=offset[1]).cast("uchar")
    return behind.insert(image, offset[0], offset[1])


def _dominant(image: pyvips.Image) -> Colour:
    """The most frequent colour (on a 32x32 miniature, in 16 levels per channel)."""
    small = image.thumbnail_image(32, height=32, size="force")
    if small.hasalpha():
        small = small.flatten(background=[255.0, 255.0, 255.0])
    small = _to_srgb(small)
    data = small.write_to_memory()
    bands = small.bands
    pixels = [tuple(data[i : i + 3]) for i in range(0, len(data), bands)]
    counts = collections.Counter((r >> 4, g >> 4, b >> 4) for r, g, b in pixels)
    winner = counts.most_common(1)[0][0]
    members = [p for p in pixels if (p[0] >> 4, p[1] >> 4, p[2] >> 4) == winner]
    red, green, blue = (round(sum(p[i] for p in members) / len(members)) for i in range(3))
    return Colour(red, green, blue)


def _effects(image: pyvips.Image, step: Step, fill: Colour | None) -> pyvips.Image:
    """Everything after the geometry, in the step's fixed order (module docstring)."""
    if isinstance(step.rotation, float):
        image = _rotate(image, step.rotation, fill)
    if step.flip in ("h", "h_v"):
        image = image.fliphor()
    if step.flip in ("v", "h_v"):
        image = image.flipver()
    if step.blur is not None:
        image = image.gaussblur(step.blur / 2)
    if step.grayscale:
        image = image.colourspace("b-w")
    if step.radius is not None:
        image = _round_corners(image, step.radius)
    if step.border is not None:
        width, colour = step.border
        image, values = _fill(image, colour)
        image = image.embed(
            width,
            width,
            image.width + 2 * width,
            image.height + 2 * width,
            extend="background",
            background=values,
        )
    return image


def _rotate(image: pyvips.Image, degrees: float, fill: Colour | None) -> pyvips.Image:
    """Clockwise; right angles exactly, other angles on a larger canvas filled like padding."""
    if degrees in (90.0, 180.0, 270.0):
        return image.rot(f"d{int(degrees)}")
    image, values = _fill(image, fill)
    return image.rotate(degrees, background=values)


def _round_corners(image: pyvips.Image, radius: tuple[int, int, int, int] | str) -> pyvips.Image:
    """Make the corners transparent: quarter circles of the given radii, or an ellipse (max).

    The edge is antialiased: each pixel keeps the share of it that lies inside the shape.
    """
    width, height = image.width, image.height
    grid = pyvips.Image.xyz(width, height)
    x, y = grid[0] + 0.5, grid[1] + 0.5  # pixel centres
    if isinstance(radius, str):  # "max"
        a, b = width / 2, height / 2
        distance = (((x - a) / a) ** 2 + ((y - b) / b) ** 2) ** 0.5
        coverage = (1 - distance) * min(a, b) + 0.5
    else:
        coverage = None
        limit = min(width, height) / 2
        centres = ((0, 0), (1, 0), (1, 1), (0, 1))  # TL TR BR BL, as `r-a_b_c_d` lists them
        for corner_radius, (right, bottom) in zip(radius, centres, strict=True):
            r = min(float(corner_radius), limit)
            if r <= 0:
                continue
            cx = width - r if right else r
            cy = height - r if bottom else r
            inside_x = (x > cx) if right else (x < cx)
            inside_y = (y > cy) if bottom else (y < cy)
            distance = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            corner = (inside_x & inside_y).ifthenelse(r - distance + 0.5, 1.0)
            coverage = corner if coverage is None else _minimum(coverage, corner)
        if coverage is None:
            return image
    coverage = _clamp(coverage)
    if image.hasalpha():
        alpha = (image[image.bands - 1] * coverage).cast("uchar")
        return image.extract_band(0, n=image.bands - 1).bandjoin(alpha)
    return image.bandjoin((coverage * 255).cast("uchar"))


def _minimum(a: pyvips.Image, b: pyvips.Image) -> pyvips.Image:
    return (a < b).ifthenelse(a, b)


def _clamp(value: pyvips.Image) -> pyvips.Image:
    value = (value < 0).ifthenelse(0.0, value)
    return (value > 1).ifthenelse(1.0, value)


def _save(
    image: pyvips.Image,
    chain: Chain,
    header: Header,
    policy: str,
    target: Path,
    animated: bool,
    source: _Input,
) -> str:
    height = int(cast(int, image.get("page-height"))) if animated else image.height
    fmt = formats.concrete(
        policy,
        header.format,
        animated=animated,
        alpha=bool(image.hasalpha()),
        size=(image.width, height),
    )
    if fmt == "webp" and max(image.width, height) > formats.WEBP_MAX_SIDE:
        raise TransformationLimit(f"WebP images can be at most {formats.WEBP_MAX_SIDE} px wide")
    if image.hasalpha() and fmt == "jpg":
        image = image.flatten(background=_flatten_colour(chain, image))
    if fmt in ("webp", "avif", "gif") and image.bands - (1 if image.hasalpha() else 0) == 1:
        image = image.colourspace("srgb")
    options = formats.save_options(fmt, chain.output, image.width * image.height)
    saver = getattr(image, formats.SAVERS[fmt])
    saver(str(target), **options)
    source.raise_failure()
    return fmt


def _flatten_colour(chain: Chain, image: pyvips.Image) -> list[float]:
    """Transparency on a format without it: the chain's last `bg` colour, else white."""
    colour = WHITE
    for step in chain.steps:
        if step.background is not None and step.background.colour is not None:
            colour = step.background.colour
    if image.bands - 1 == 1:
        return [float(colour.red)]
    return colour.rgb


__all__ = ["Header", "Limits", "Source", "render"]
