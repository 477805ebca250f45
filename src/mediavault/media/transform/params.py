"""Parse, validate and normalize an ImageKit transformation string (`tr`).

Grammar (spec §1.1): steps separated by `:`, parameters of a step by `,`, each parameter
`key-value`. A key starting with `e-` runs to the next `-` (`e-grayscale`); any other key runs
to the first `-`, and the value is the rest (`ar-4-3`, `fo-top_left`). Empty steps and empty
parameters (`w-300,,h-200`) are skipped.

Every failure is a `BadTransformation` (400, `Bad Image Transformation Request`), whose `ik_error`
says what was wrong. A parameter that is valid but that this server does not implement is
refused the same way, never silently ignored; the two documented exceptions are ImageKit's own:
a `w`/`h` above 65535 is ignored, and so is a `dpr` whose result leaves 1-5000 px (geometry).

Within a step the parameters form a set: their order does not matter (a key given twice is
refused), and they are applied in one fixed order (pipeline.py). The output options (`f`, `q`,
`pr`, `lo`) belong to the chain, not to a step: the last one given wins. `Chain.text` is the
canonical form: steps in order, parameters in a fixed order, values normalized, defaults and
ignored parameters dropped, output options last. Two strings with the same canonical form
produce the same image, so the canonical form keys the rendition cache and the ETag.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from mediavault.errors import BadTransformation
from mediavault.media.transform.colours import Colour, parse_colour

DEFAULT_QUALITY = 80
# ImageKit ignores a requested dimension above this (spec §1.6).
IGNORED_ABOVE = 65535
# Bounds on the work one URL can ask for; far above anything a person or an SDK writes.
MAX_TEXT = 2048
MAX_STEPS = 16
DEFAULT_TRIM_THRESHOLD = 10

CROPS = frozenset(
    {
        "maintain_ratio",
        "force",
        "at_least",
        "at_max",
        "at_max_enlarge",
        "maintain_ratio_no_enlarge",
    }
)
CROP_MODES = frozenset(
    {"pad_resize", "extract", "pad_extract", "pad_resize_no_enlarge", "pad_extract_no_shrink"}
)
# The nine positions: where a crop is taken, or where the image sits in its padding.
POSITIONS: Mapping[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top_left": (0.0, 0.0),
    "top_right": (1.0, 0.0),
    "bottom_left": (0.0, 1.0),
    "bottom_right": (1.0, 1.0),
}
# Focus values that need a detector this server does not have: taken as `center`
# (spec §1.7's proposal), which keeps every output dimension right. `auto` is saliency.
_COCO = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
    "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
    "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork "
    "knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake "
    "chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear "
    "hair_drier toothbrush"
)
CENTRED_FOCUS = frozenset({"face", "custom", *_COCO.split()})
FORMATS = frozenset({"auto", "webp", "avif", "jpg", "png", "gif", "svg", "orig"})
# Not a value of ImageKit's `f`: the built-in thumbnail's JPEG, or PNG when there is alpha.
FLAT = "flat"
FLIPS = {"h": "h", "v": "v", "h_v": "h_v", "v_h": "h_v"}
# ImageKit parameters this server knows but does not implement: refused with their name.
UNSUPPORTED = frozenset(
    {
        "z",
        "o",
        "cp",
        "md",
        "di",
        "pg",
        "l",
        "lx",
        "ly",
        "lfo",
        "i",
        "ie",
        "e-sharpen",
        "e-contrast",
        "e-shadow",
        "e-gradient",
        "e-usm",
        "e-dropshadow",
        "e-bgremove",
        "e-removedotbg",
        "e-upscale",
        "e-retouch",
        "e-genvar",
        "e-changebg",
        "e-edit",
        "vc",
        "ac",
        "so",
        "eo",
        "du",
        "sr",
        "fps",
        "ts",
    }
)
_DECIMAL = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"\d+")
_SHOWN = re.compile(r"[^\x21-\x7e]")


@dataclass(frozen=True)
class Dimension:
    """A requested width or height: pixels, or a fraction (0 < v < 1) of the input's side."""

    value: float
    fraction: bool

    def pixels(self, side: int) -> float:
        return self.value * side if self.fraction else self.value

    def canonical(self) -> str:
        return number(self.value)


@dataclass(frozen=True)
class Background:
    """`bg`: a colour, `blurred[_<amount|auto>][_<brightness>]` or `dominant`."""

    kind: str  # "colour" | "blurred" | "dominant"
    colour: Colour | None = None
    blur: int | None = None  # blurred: 0-100, None for auto
    brightness: int = 0  # blurred: -255..255

    def canonical(self) -> str:
        if self.kind == "colour":
            assert self.colour is not None
            return self.colour.canonical()
        if self.kind == "blurred":
            amount = "auto" if self.blur is None else str(self.blur)
            brightness = f"N{-self.brightness}" if self.brightness < 0 else str(self.brightness)
            return f"blurred_{amount}_{brightness}"
        return self.kind


@dataclass(frozen=True)
class Step:
    """One step of a chain; None (or False) means the parameter is absent."""

    width: Dimension | None = None
    height: Dimension | None = None
    aspect: tuple[float, float] | None = None
    dpr: float | None = None
    crop: str | None = None  # None: maintain_ratio
    crop_mode: str | None = None
    focus: str | None = None  # None: center
    x: int | None = None
    y: int | None = None
    x_center: int | None = None
    y_center: int | None = None
    trim: int | None = None  # similarity threshold
    rotation: float | str | None = None  # clockwise degrees in (0, 360), or "auto"
    flip: str | None = None  # "h", "v", "h_v"
    blur: int | None = None
    grayscale: bool = False
    radius: tuple[int, int, int, int] | str | None = None  # per corner TL TR BR BL, or "max"
    border: tuple[int, Colour] | None = None
    background: Background | None = None

    @property
    def extracts(self) -> bool:
        return self.crop_mode in ("extract", "pad_extract")

    def canonical(self) -> str:
        return ",".join(f"{key}-{text}" if text else key for key, text in self._parts())

    def _parts(self) -> list[tuple[str, str]]:
        parts: list[tuple[str, str]] = []
        if self.width is not None:
            parts.append(("w", self.width.canonical()))
        if self.height is not None:
            parts.append(("h", self.height.canonical()))
        if self.aspect is not None:
            parts.append(("ar", f"{number(self.aspect[0])}-{number(self.aspect[1])}"))
        if self.dpr is not None:
            parts.append(("dpr", number(self.dpr)))
        if self.crop is not None:
            parts.append(("c", self.crop))
        if self.crop_mode is not None:
            parts.append(("cm", self.crop_mode))
        if self.focus is not None:
            parts.append(("fo", self.focus))
        for key, value in (
            ("x", self.x),
            ("y", self.y),
            ("xc", self.x_center),
            ("yc", self.y_center),
        ):
            if value is not None:
                parts.append((key, str(value)))
        if self.trim is not None:
            parts.append(("t", str(self.trim)))
        if self.rotation is not None:
            shown = self.rotation if isinstance(self.rotation, str) else number(self.rotation)
            parts.append(("rt", shown))
        if self.flip is not None:
            parts.append(("fl", self.flip))
        if self.blur is not None:
            parts.append(("bl", str(self.blur)))
        if self.grayscale:
            parts.append(("e-grayscale", ""))
        if self.radius is not None:
            radius = self.radius
            parts.append(("r", radius if isinstance(radius, str) else "_".join(map(str, radius))))
        if self.border is not None:
            parts.append(("b", f"{self.border[0]}_{self.border[1].canonical()}"))
        if self.background is not None:
            parts.append(("bg", self.background.canonical()))
        return parts


@dataclass(frozen=True)
class Output:
    """How the result is encoded: the chain's `f`, `q`, `pr` and `lo`."""

    format: str = "auto"  # a value of FORMATS (jpeg taken as jpg), or FLAT
    quality: int | None = None  # None: DEFAULT_QUALITY
    progressive: bool = False
    lossless: bool = False

    def canonical(self) -> str:
        parts = []
        if self.format != "auto":
            parts.append(f"f-{self.format}")
        if self.quality is not None and self.quality != DEFAULT_QUALITY:
            parts.append(f"q-{self.quality}")
        if self.progressive:
            parts.append("pr-true")
        if self.lossless:
            parts.append("lo-true")
        return ",".join(parts)


@dataclass(frozen=True)
class Chain:
    """A parsed, validated transformation: steps left to right, then the output options."""

    steps: tuple[Step, ...] = ()
    output: Output = field(default_factory=Output)
    # orig-true: the stored bytes untouched; every other parameter is ignored.
    original: bool = False
    # Every step was a lone `n-<name>`: allowed unsigned on private files (spec §1.4).
    named_only: bool = False
    # A built-in thumbnail: a placeholder picture when the file cannot be pictured.
    placeholder: bool = False

    @cached_property
    def text(self) -> str:
        """The canonical form (module docstring)."""
        if self.original:
            return "orig-true"
        parts = [s for s in (step.canonical() for step in self.steps) if s]
        output = self.output.canonical()
        if output:
            parts.append(output)
        return ":".join(parts)

    @property
    def auto_format(self) -> bool:
        """The format is chosen from the request's Accept header: responses vary on it."""
        return not self.original and self.output.format == "auto"


Named = Mapping[str, Chain]


def parse_transformation(text: str, named: Named | None = None, max_dpr: float = 5) -> Chain:
    """The chain `text` describes (percent-decoded, with or without its `tr:` prefix).

    `named` maps the names `n-<name>` may use to their chains (named.py); `max_dpr` is the
    largest `dpr` accepted.
    """
    if len(text) > MAX_TEXT:
        raise BadTransformation(f"the transformation is longer than {MAX_TEXT} characters")
    text = text.removeprefix("tr:")
    steps: list[Step] = []
    output: dict[str, Any] = {}
    original = False
    placeholder = False
    named_only = True
    raw_steps = [s for s in text.split(":") if s]
    for raw_step in raw_steps:
        tokens = [t for t in raw_step.split(",") if t]
        if not tokens:
            continue
        fields_: dict[str, Any] = {}
        seen: set[str] = set()
        expansion: Chain | None = None
        for token in tokens:
            key, value = split_parameter(token)
            if key in seen:
                raise BadTransformation(f"the parameter '{shown(key)}' is given twice in a step")
            seen.add(key)
            if key == "n":
                expansion = _named(value, named)
                # Options given later, in this step or after it, win over the named ones.
                output.update(_output_fields(expansion.output))
                continue
            if key == "orig":
                original = original or _boolean(key, value)
                continue
            if key in _OUTPUT_PARSERS:
                name, parser = _OUTPUT_PARSERS[key]
                output[name] = parser(key, value)
                continue
            parser_entry = _STEP_PARSERS.get(key)
            if parser_entry is None:
                kind = "unsupported" if key in UNSUPPORTED else "unknown"
                raise BadTransformation(f"{kind} transformation parameter '{shown(key)}'")
            name, step_parser = parser_entry
            parsed = step_parser(key, value) if key != "dpr" else _dpr(key, value, max_dpr)
            if not isinstance(parsed, _Ignored):
                fields_[name] = parsed
        named_only = named_only and expansion is not None and len(tokens) == 1
        if expansion is not None:
            placeholder = placeholder or expansion.placeholder
            original = original or expansion.original
            expanded = list(expansion.steps) or [Step()]
            expanded[-1] = replace(expanded[-1], **fields_)
            steps.extend(expanded)
        else:
            steps.append(Step(**fields_))
        if len(steps) > MAX_STEPS:
            raise BadTransformation(f"a transformation can have at most {MAX_STEPS} steps")
    normalized = (_normalize(step) for step in steps)
    return Chain(
        steps=tuple(step for step in normalized if step != Step()),
        output=Output(**output),
        original=original,
        named_only=named_only and bool(raw_steps),
        placeholder=placeholder,
    )


def split_parameter(token: str) -> tuple[str, str]:
    """(key, value) of one parameter: `e-` keys run to their second `-`, others to the first."""
    if token.startswith("e-"):
        key, _, value = token[2:].partition("-")
        return "e-" + key, value
    key, _, value = token.partition("-")
    return key, value


def shown(text: str) -> str:
    """User text made safe for a message and a response header: printable ASCII, short."""
    cleaned = _SHOWN.sub("?", text)
    return cleaned if len(cleaned) <= 40 else cleaned[:40] + "..."


def number(value: float) -> str:
    """The canonical spelling of a number: `300`, `0.5`, `1.333333`."""
    if value == int(value):
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _normalize(step: Step) -> Step:
    """Drop what has no effect, so that equal results get equal canonical forms."""
    changes: dict[str, Any] = {}
    if step.crop == "maintain_ratio":
        changes["crop"] = None
    if step.focus == "center":
        changes["focus"] = None
    if step.aspect is not None and (
        (step.width is None) == (step.height is None)  # both given (ignored) or neither
    ):
        changes["aspect"] = None
    if step.dpr == 1 or (step.dpr is not None and step.width is None and step.height is None):
        changes["dpr"] = None  # dpr multiplies w/h; alone it does nothing
    if not step.extracts:
        changes.update(x=None, y=None, x_center=None, y_center=None)
    return replace(step, **changes) if changes else step


def _named(name: str, named: Named | None) -> Chain:
    chain = (named or {}).get(name)
    if chain is None:
        raise BadTransformation(f"unknown named transformation '{shown(name)}'")
    return chain


def _output_fields(output: Output) -> dict[str, Any]:
    defaults = Output()
    return {
        f.name: getattr(output, f.name)
        for f in fields(output)
        if getattr(output, f.name) != getattr(defaults, f.name)
    }


class _Ignored:
    """Returned by a parser for a value that has no effect (`w-70000`, `rt-0`, `t-false`)."""


_IGNORED = _Ignored()


def _invalid(key: str, value: str) -> BadTransformation:
    return BadTransformation(f"invalid value '{shown(value)}' for the parameter '{shown(key)}'")


def _decimal(key: str, value: str) -> float:
    if not _DECIMAL.fullmatch(value):
        raise _invalid(key, value)
    parsed = float(value)
    if not math.isfinite(parsed):
        raise _invalid(key, value)
    return parsed


def _integer(key: str, value: str, low: int, high: int | None = None) -> int:
    if not _INTEGER.fullmatch(value) or len(value) > 9:
        raise _invalid(key, value)
    parsed = int(value)
    if parsed < low or (high is not None and parsed > high):
        raise _invalid(key, value)
    return parsed


def _dimension(key: str, value: str) -> Dimension | _Ignored:
    if value == "auto" or not _DECIMAL.fullmatch(value):
        # Client hints (`auto`) and arithmetic expressions (`iw_div_2`) are not implemented.
        raise _invalid(key, value)
    parsed = _decimal(key, value)
    if parsed <= 0:
        raise _invalid(key, value)
    if parsed > IGNORED_ABOVE:
        return _IGNORED
    if parsed < 1:
        return Dimension(parsed, fraction=True)
    return Dimension(float(round_half_up(parsed)), fraction=False)


def round_half_up(value: float) -> int:
    """Nearest integer, halves up (ImageKit rounds to nearest; its .5 rule is not known)."""
    return math.floor(value + 0.5)


def _whole(parse: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    """A parser of a compound value whose errors show the whole value, not the failing part."""

    def whole(key: str, value: str) -> Any:
        try:
            return parse(key, value)
        except BadTransformation:
            raise _invalid(key, value) from None

    return whole


def _aspect(key: str, value: str) -> tuple[float, float]:
    parts = re.split(r"[-_]", value)
    if len(parts) != 2:
        raise _invalid(key, value)
    width, height = (_decimal(key, p) if p else 0.0 for p in parts)
    if width <= 0 or height <= 0:
        raise _invalid(key, value)
    return width, height


def _dpr(key: str, value: str, max_dpr: float) -> float:
    parsed = _decimal(key, value) if value != "auto" else -1.0
    if not 0.1 <= parsed <= max_dpr:
        raise _invalid(key, value)
    return parsed


def _enum(choices: frozenset[str]) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in choices:
            raise _invalid(key, value)
        return value

    return parse


def _focus(key: str, value: str) -> str:
    if value in POSITIONS or value == "auto" or value in CENTRED_FOCUS:
        return value
    raise _invalid(key, value)


def _coordinate(key: str, value: str) -> int:
    return _integer(key, value, 0)


def _trim(key: str, value: str) -> int | _Ignored:
    if value == "true":
        return DEFAULT_TRIM_THRESHOLD
    if value == "false":
        return _IGNORED
    return _integer(key, value, 1, 99)


def _rotation(key: str, value: str) -> float | str | _Ignored:
    if value == "auto":
        return "auto"
    counter = value.startswith("N")
    degrees = _decimal(key, value[1:] if counter else value) % 360
    if counter:
        degrees = (360 - degrees) % 360
    if degrees == 0:
        return _IGNORED
    return degrees


def _flip(key: str, value: str) -> str:
    if value not in FLIPS:
        raise _invalid(key, value)
    return FLIPS[value]


def _blur(key: str, value: str) -> int:
    return _integer(key, value, 1, 100)


def _grayscale(key: str, value: str) -> bool:
    if value not in ("", "true"):
        raise _invalid(key, value)
    return True


def _radius(key: str, value: str) -> tuple[int, int, int, int] | str:
    if value == "max":
        return "max"
    parts = value.split("_")
    if len(parts) == 1:
        radius = _integer(key, value, 1)
        return radius, radius, radius, radius
    if len(parts) != 4:
        raise _invalid(key, value)
    corners = tuple(_integer(key, p, 0) for p in parts)
    return corners[0], corners[1], corners[2], corners[3]


def _border(key: str, value: str) -> tuple[int, Colour]:
    width, _, colour_text = value.partition("_")
    colour = parse_colour(colour_text)
    if colour is None:
        raise _invalid(key, value)
    return _integer(key, width, 1, 1000), colour


def _background(key: str, value: str) -> Background:
    colour = parse_colour(value)
    if colour is not None:
        return Background("colour", colour)
    if value == "dominant":
        return Background("dominant")
    if value == "blurred" or value.startswith("blurred_"):
        parts = value.split("_")[1:]
        if len(parts) > 2:
            raise _invalid(key, value)
        amount: int | None = None
        if parts and parts[0] != "auto":
            amount = _integer(key, parts[0], 0, 100)
        brightness = 0
        if len(parts) == 2:
            negative = parts[1].startswith("N")
            brightness = _integer(key, parts[1].removeprefix("N"), 0, 255)
            brightness = -brightness if negative else brightness
        return Background("blurred", blur=amount, brightness=brightness)
    raise _invalid(key, value)


def _boolean(key: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise _invalid(key, value)
    return value == "true"


def _format(key: str, value: str) -> str:
    value = "jpg" if value == "jpeg" else value
    if value not in FORMATS:
        raise _invalid(key, value)
    return value


def _quality(key: str, value: str) -> int:
    return _integer(key, value, 1, 100)


_STEP_PARSERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "w": ("width", _dimension),
    "h": ("height", _dimension),
    "ar": ("aspect", _whole(_aspect)),
    "dpr": ("dpr", _decimal),  # parsed by _dpr, which needs the limit
    "c": ("crop", _enum(CROPS)),
    "cm": ("crop_mode", _enum(CROP_MODES)),
    "fo": ("focus", _focus),
    "x": ("x", _coordinate),
    "y": ("y", _coordinate),
    "xc": ("x_center", _coordinate),
    "yc": ("y_center", _coordinate),
    "t": ("trim", _trim),
    "rt": ("rotation", _rotation),
    "fl": ("flip", _flip),
    "bl": ("blur", _blur),
    "e-grayscale": ("grayscale", _grayscale),
    "r": ("radius", _whole(_radius)),
    "b": ("border", _whole(_border)),
    "bg": ("background", _whole(_background)),
}
_OUTPUT_PARSERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "f": ("format", _format),
    "q": ("quality", _quality),
    "pr": ("progressive", _boolean),
    "lo": ("lossless", _boolean),
}
