"""Resize, crop and pad planning for one step: pure arithmetic on sizes (spec §1.6, §1.7).

Every mode comes down to the same two moves, which `Plan` records: scale the input to
`resize`, then lay it on a `canvas` with its top-left corner at `offset`. A negative offset
cuts the image (a crop); a canvas reaching beyond the image is padding. Sizes are rounded to
the nearest pixel, halves up (640x865 with `w-300,h-200,c-at_max` gives 148x200, not 147).

Choices where ImageKit's documentation is silent (docs/decisions.md):
- With one of `w`/`h` (and no `ar`), the other follows the aspect ratio in every mode; the
  extract modes take the input's full other side instead.
- `c-maintain_ratio`, `c-at_least`, `c-force`, `c-at_max_enlarge` and `cm-pad_resize` enlarge;
  `c-at_max`, and the `*_no_enlarge` variants, never do.
- `cm-extract` clips a focus-placed box to the image; a box placed by `x`/`y` or `xc`/`yc`
  that leaves the image is refused. `cm-pad_extract_no_shrink` pads and never cuts.
- `dpr` whose result falls outside 1-5000 px is ignored, as ImageKit documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediavault.errors import BadTransformation, TransformationLimit
from mediavault.media.transform.params import POSITIONS, Step, round_half_up

# ImageKit ignores a `dpr` whose result would leave this range of pixels.
DPR_RESULT_RANGE = (1, 5000)


@dataclass(frozen=True)
class Plan:
    resize: tuple[int, int]  # scale the input to this size first
    canvas: tuple[int, int]  # the step's output size
    offset: tuple[int, int]  # the scaled image's top-left corner on the canvas
    smart: bool = False  # crop by saliency (fo-auto): the offset is found on the pixels

    @property
    def pads(self) -> bool:
        (width, height), (cw, ch), (left, top) = self.resize, self.canvas, self.offset
        return left > 0 or top > 0 or left + width < cw or top + height < ch


def identity(width: int, height: int) -> Plan:
    return Plan((width, height), (width, height), (0, 0))


def requested_size(width: int, height: int, step: Step) -> tuple[float | None, float | None]:
    """The step's `w` and `h` in pixels (unrounded): fractions resolved, `dpr` and `ar` applied."""
    w = step.width.pixels(width) if step.width else None
    h = step.height.pixels(height) if step.height else None
    if step.dpr is not None and (w is not None or h is not None):
        scaled = [v * step.dpr for v in (w, h) if v is not None]
        low, high = DPR_RESULT_RANGE
        if all(low <= v <= high for v in scaled):
            w = w * step.dpr if w is not None else None
            h = h * step.dpr if h is not None else None
    if step.aspect is not None and (w is None) != (h is None):
        ratio = step.aspect[0] / step.aspect[1]
        if w is not None:
            h = w / ratio
        elif h is not None:
            w = h * ratio
    return w, h


def plan_step(width: int, height: int, step: Step) -> Plan:
    """What `step` does to an image of `width` x `height` (already upright)."""
    w, h = requested_size(width, height, step)
    if w is None and h is None:
        return identity(width, height)
    if step.crop_mode in ("extract", "pad_extract", "pad_extract_no_shrink"):
        box_w = _px(w) if w is not None else width
        box_h = _px(h) if h is not None else height
        return _extract(width, height, box_w, box_h, step)
    if w is None or h is None:
        return _one_side(width, height, w, h, step)
    return _both_sides(width, height, _px(w), _px(h), step)


def check_limits(plan: Plan, max_side: int, max_pixels: int, frames: int = 1) -> None:
    for cw, ch in (plan.resize, plan.canvas):
        check_size(cw, ch, max_side, max_pixels, frames)


def check_size(width: int, height: int, max_side: int, max_pixels: int, frames: int = 1) -> None:
    if max(width, height) > max_side:
        raise TransformationLimit(
            f"the output would be {width}x{height}; its sides can be at most {max_side} px"
        )
    if width * height * frames > max_pixels:
        raise TransformationLimit(
            f"the output would have {width * height * frames} pixels; at most {max_pixels}"
        )


def _px(value: float) -> int:
    return max(1, round_half_up(value))


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return _px(width * scale), _px(height * scale)


def _one_side(width: int, height: int, w: float | None, h: float | None, step: Step) -> Plan:
    scale = w / width if w is not None else (h or 1.0) / height
    never_enlarges = step.crop in ("at_max", "maintain_ratio_no_enlarge") or (
        step.crop_mode == "pad_resize_no_enlarge"
    )
    if never_enlarges and scale > 1:
        return identity(width, height)
    # The requested side is exact; the other follows the ratio.
    size = (_px(w), _px(height * scale)) if w is not None else (_px(width * scale), _px(h or 1))
    return Plan(size, size, (0, 0))


def _both_sides(width: int, height: int, w: int, h: int, step: Step) -> Plan:
    sx, sy = w / width, h / height
    if step.crop_mode in ("pad_resize", "pad_resize_no_enlarge"):
        scale = min(sx, sy)
        if step.crop_mode == "pad_resize_no_enlarge":
            scale = min(scale, 1.0)
        size = _fit(width, height, scale, w, h)
        return Plan(size, (w, h), _place(size, (w, h), step.focus))
    crop = step.crop or "maintain_ratio"
    if crop == "force":
        return Plan((w, h), (w, h), (0, 0))
    if crop in ("at_max", "at_max_enlarge"):
        scale = min(sx, sy) if crop == "at_max_enlarge" else min(sx, sy, 1.0)
        size = _fit(width, height, scale, w, h)
        return Plan(size, size, (0, 0))
    if crop == "at_least":
        size = _cover(width, height, max(sx, sy), w, h)
        return Plan(size, size, (0, 0))
    # maintain_ratio: cover the box, then cut it out around the focus.
    scale = max(sx, sy)
    if crop == "maintain_ratio_no_enlarge":
        scale = min(scale, 1.0)
    size = _cover(width, height, scale, w, h)
    canvas = (min(w, size[0]), min(h, size[1]))
    if step.focus == "auto":
        return Plan(size, canvas, (0, 0), smart=True)
    return Plan(size, canvas, _place(size, canvas, step.focus))


def _fit(width: int, height: int, scale: float, w: int, h: int) -> tuple[int, int]:
    """The input scaled to fit inside w x h, never a pixel over through rounding."""
    size_w, size_h = _scaled(width, height, scale)
    return min(size_w, w), min(size_h, h)


def _cover(width: int, height: int, scale: float, w: int, h: int) -> tuple[int, int]:
    """The input scaled to cover w x h, never a pixel short through rounding (unless the
    scale was capped to avoid enlarging)."""
    size_w, size_h = _scaled(width, height, scale)
    if scale >= w / width:
        size_w = max(size_w, w)
    if scale >= h / height:
        size_h = max(size_h, h)
    return size_w, size_h


def _extract(width: int, height: int, box_w: int, box_h: int, step: Step) -> Plan:
    """A box cut from the unscaled input; `pad_extract` pads where the box is larger."""
    mode = step.crop_mode
    positioned = (step.x, step.y, step.x_center, step.y_center) != (None,) * 4
    if mode == "pad_extract_no_shrink":
        canvas = (max(box_w, width), max(box_h, height))
        return Plan((width, height), canvas, _place((width, height), canvas, step.focus))
    if mode == "extract" and not positioned:
        box_w, box_h = min(box_w, width), min(box_h, height)
    canvas = (box_w, box_h)
    if step.focus == "auto" and mode == "extract" and not positioned:
        return Plan((width, height), canvas, (0, 0), smart=True)
    left, top = _place((width, height), canvas, step.focus)
    left = _corner(left, step.x, step.x_center, box_w, width, mode == "extract", "x")
    top = _corner(top, step.y, step.y_center, box_h, height, mode == "extract", "y")
    return Plan((width, height), canvas, (left, top))


def _corner(
    placed: int,
    corner: int | None,
    centre: int | None,
    box: int,
    side: int,
    strict: bool,
    axis: str,
) -> int:
    """The image's offset on one axis when `x`/`y` (corner) or `xc`/`yc` (centre) fix the box."""
    if corner is None and centre is None:
        return placed
    start = corner if corner is not None else (centre or 0) - box // 2
    # extract: the box must lie inside the image; pad_extract: it must at least touch it.
    outside = start < 0 or start + box > side if strict else start >= side or start + box <= 0
    if outside:
        raise BadTransformation(
            f"the extract box ({axis} from {start} to {start + box}) leaves the image (0 to {side})"
        )
    return -start


def _place(size: tuple[int, int], canvas: tuple[int, int], focus: str | None) -> tuple[int, int]:
    """Offset of an image of `size` on `canvas` at a focus position (centre for the rest)."""
    fx, fy = POSITIONS.get(focus or "center", POSITIONS["center"])
    return _along(size[0], canvas[0], fx), _along(size[1], canvas[1], fy)


def _along(length: int, room: int, where: float) -> int:
    spare = room - length  # > 0: padding to share out; < 0: pixels to cut
    moved = int(abs(spare) * where)
    return moved if spare >= 0 else -moved
