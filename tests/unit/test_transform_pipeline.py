"""The engine on real images (libvips through pyvips): sizes, formats, pixels, limits."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mediavault.errors import BadTransformation, TransformationLimit
from mediavault.media.transform import Rendition, TransformEngine

RED, GREEN, BLUE, YELLOW = (220, 20, 20), (20, 200, 20), (20, 20, 220), (230, 220, 20)
WEBP, AVIF = "image/webp,*/*;q=0.8", "image/avif,image/webp,*/*"


def quadrants(width: int = 1000, height: int = 800) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    image = Image.new("RGB", (width, height), RED)
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 2, 0, width, height // 2), fill=GREEN)
    draw.rectangle((0, height // 2, width // 2, height), fill=BLUE)
    draw.rectangle((width // 2, height // 2, width, height), fill=YELLOW)
    return image


def save(image: Image.Image, path: Path, fmt: str, **options: Any) -> Path:
    image.save(path, fmt, **options)
    return path


def near(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, colour, strict=False))


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def engine(tmp_path: Path) -> TransformEngine:
    return TransformEngine(tmp_path / "cache")


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    return save(quadrants(), tmp_path / "source.jpg", "JPEG", quality=95)


Render = Callable[..., tuple[Rendition, Image.Image]]


@pytest.fixture
def render(engine: TransformEngine) -> Render:
    def run(
        source: Path, text: str, accept: str | None = None, is_image: bool = True
    ) -> tuple[Rendition, Image.Image]:
        chain = engine.parse(text)
        rendition = engine.render(chain, source, digest_of(source), accept, is_image=is_image)
        assert rendition.path is not None, "the engine served the stored bytes"
        picture = Image.open(rendition.path)
        picture.load()
        return rendition, picture

    return run


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("w-300,h-200", (300, 200)),
        ("w-300,h-200,c-force", (300, 200)),
        ("w-300,h-200,c-at_max", (250, 200)),
        ("w-300,h-200,c-at_least", (300, 240)),
        ("w-300,h-200,cm-pad_resize", (300, 200)),
        ("w-300,h-200,cm-extract", (300, 200)),
        ("w-300", (300, 240)),
        ("h-200", (250, 200)),
        ("w-0.5", (500, 400)),
        ("ar-4-3,w-400", (400, 300)),
        ("w-300,dpr-2", (600, 480)),
        ("w-2000,h-1000,c-at_max", (1000, 800)),
        ("w-2000,h-1000,c-at_max_enlarge", (1250, 1000)),
        ("w-2000,h-1000,cm-pad_extract", (2000, 1000)),
        ("w-400,h-300:rt-90", (300, 400)),  # spec §1.2: resize, then rotate
        ("rt-90:w-400,h-300", (400, 300)),  # rotate, then resize
        ("w-70000", (1000, 800)),  # ignored, as ImageKit does
        ("", (1000, 800)),
    ],
)
def test_output_sizes(render: Render, jpeg: Path, text: str, size: tuple[int, int]) -> None:
    rendition, picture = render(jpeg, text)
    assert picture.size == size
    assert (picture.format, rendition.content_type) == ("JPEG", "image/jpeg")


def test_crop_focus_takes_the_named_region(render: Render, jpeg: Path) -> None:
    extract = "w-300,h-200,cm-extract"
    assert near(render(jpeg, f"{extract},fo-top_left")[1].getpixel((150, 100)), RED)
    assert near(render(jpeg, f"{extract},fo-top_right")[1].getpixel((150, 100)), GREEN)
    assert near(render(jpeg, f"{extract},fo-bottom_left")[1].getpixel((150, 100)), BLUE)
    assert near(render(jpeg, f"{extract},fo-bottom_right")[1].getpixel((150, 100)), YELLOW)
    # x/y: the box's top-left corner; xc/yc: its centre.
    boxed = render(jpeg, f"{extract},x-600,y-500")[1]
    assert near(boxed.getpixel((150, 100)), YELLOW)
    centred = render(jpeg, f"{extract},xc-250,yc-600")[1]
    assert near(centred.getpixel((150, 100)), BLUE)
    # The default crop keeps the centre; fo-left keeps the left of a wide cut.
    left = render(jpeg, "w-200,h-800,fo-left")[1]
    assert left.size == (200, 800) and near(left.getpixel((100, 100)), RED)
    right = render(jpeg, "w-200,h-800,fo-right")[1]
    assert near(right.getpixel((100, 100)), GREEN)


def test_focus_auto_crops_around_what_stands_out(render: Render, tmp_path: Path) -> None:
    image = Image.new("RGB", (1000, 400), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for i in range(0, 100, 10):  # a busy, saturated patch near the right edge
        draw.rectangle((850 + i, 150, 855 + i, 250), fill=(255, 0, 0) if i % 20 else (0, 0, 255))
    source = save(image, tmp_path / "patch.png", "PNG")

    def colourful(picture: Image.Image) -> int:
        data = picture.convert("RGB").tobytes()
        pixels = (data[i : i + 3] for i in range(0, len(data), 3))
        return sum(1 for p in pixels if max(p) - min(p) > 100)

    assert colourful(render(source, "w-300,h-400,fo-auto,f-png")[1]) > 1000
    assert colourful(render(source, "w-300,h-400,f-png")[1]) == 0  # the centre has none
    extracted = render(source, "w-200,h-200,cm-extract,fo-auto,f-png")[1]
    assert extracted.size == (200, 200) and colourful(extracted) > 1000


def test_padding_takes_the_background_colour(render: Render, jpeg: Path) -> None:
    padded = render(jpeg, "w-300,h-200,cm-pad_resize,bg-0000FF")[1]
    assert padded.size == (300, 200)
    assert near(padded.getpixel((5, 100)), (0, 0, 255)) and near(
        padded.getpixel((295, 100)), (0, 0, 255)
    )
    assert near(padded.getpixel((40, 40)), RED)
    left = render(jpeg, "w-300,h-200,cm-pad_resize,bg-0000FF,fo-left")[1]
    assert near(left.getpixel((5, 40)), RED) and near(left.getpixel((290, 40)), (0, 0, 255))
    black = render(jpeg, "w-300,h-200,cm-pad_resize")[1]
    assert near(black.getpixel((5, 100)), (0, 0, 0), 10)  # ImageKit's default, black
    named = render(jpeg, "w-300,h-200,cm-pad_resize,bg-yellow")[1]
    assert near(named.getpixel((5, 100)), (255, 255, 0))
    extract = render(jpeg, "w-2000,h-1000,cm-pad_extract,bg-FFFFFF")[1]
    assert near(extract.getpixel((100, 500)), (255, 255, 255)) and near(
        extract.getpixel((600, 200)), RED
    )


def test_translucent_background_and_alpha_sources(
    render: Render, jpeg: Path, tmp_path: Path
) -> None:
    # RRGGBBAA: opacity 50 % needs alpha, so the JPEG source becomes a PNG.
    _, half = render(jpeg, "w-300,h-200,cm-pad_resize,bg-00FF0050")
    assert (half.format, half.mode) == ("PNG", "RGBA")
    assert abs(half.getpixel((5, 100))[3] - 128) <= 2
    # A source with alpha pads with transparency unless told otherwise.
    rgba = Image.new("RGBA", (400, 200), (255, 0, 0, 255))
    source = save(rgba, tmp_path / "alpha.png", "PNG")
    clear = render(source, "w-200,h-200,cm-pad_resize")[1]
    assert clear.mode == "RGBA" and clear.getpixel((100, 5))[3] == 0
    assert clear.getpixel((100, 100)) == (255, 0, 0, 255)
    # An explicit JPEG flattens transparency on white, or on the chain's bg.
    flat = render(source, "w-200,h-200,cm-pad_resize,f-jpg")[1]
    assert flat.mode == "RGB" and near(flat.getpixel((100, 5)), (255, 255, 255), 5)


def test_grayscale(render: Render, jpeg: Path) -> None:
    rendition, picture = render(jpeg, "e-grayscale")
    assert picture.mode == "L" and rendition.content_type == "image/jpeg"
    _, coloured = render(jpeg, "e-grayscale:w-300,h-200,cm-pad_resize,bg-FF0000", WEBP)
    pixel = coloured.convert("RGB").getpixel((150, 50))
    assert pixel[0] == pixel[1] == pixel[2]  # the image stays grey...
    assert near(coloured.convert("RGB").getpixel((5, 100)), (255, 0, 0))  # ...a later step's bg not


def test_rotation_and_flips(render: Render, jpeg: Path) -> None:
    clockwise = render(jpeg, "rt-90")[1]
    assert clockwise.size == (800, 1000)
    assert near(clockwise.getpixel((100, 100)), BLUE)  # bottom-left went to the top-left
    assert near(clockwise.getpixel((700, 100)), RED)
    counter = render(jpeg, "rt-N90")[1]
    assert near(counter.getpixel((100, 100)), GREEN)
    upside_down = render(jpeg, "rt-180")[1]
    assert near(upside_down.getpixel((100, 100)), YELLOW)
    assert near(render(jpeg, "fl-h")[1].getpixel((100, 100)), GREEN)
    assert near(render(jpeg, "fl-v")[1].getpixel((100, 100)), BLUE)
    assert near(render(jpeg, "fl-h_v")[1].getpixel((100, 100)), YELLOW)
    tilted = render(jpeg, "w-400,h-400,c-force:rt-45")[1]
    assert tilted.size[0] in range(564, 568) and tilted.size == (tilted.size[0],) * 2
    assert near(tilted.getpixel((3, 3)), (0, 0, 0), 10)
    white = render(jpeg, "w-400,h-400,c-force:rt-45,bg-FFFFFF")[1]
    assert near(white.getpixel((3, 3)), (255, 255, 255), 10)


def test_exif_orientation_is_applied(render: Render, tmp_path: Path) -> None:
    stored = Image.new("RGB", (400, 200), RED)
    ImageDraw.Draw(stored).rectangle((0, 0, 199, 199), fill=BLUE)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    source = save(stored, tmp_path / "oriented.jpg", "JPEG", exif=exif.tobytes(), quality=95)
    for text in ("w-100", "rt-auto,w-100"):
        picture = render(source, text)[1]
        assert picture.size == (100, 200)
        assert near(picture.getpixel((50, 20)), BLUE) and near(picture.getpixel((50, 180)), RED)
        assert "exif" not in picture.info  # no metadata travels into renditions


def test_rounded_corners(render: Render, jpeg: Path) -> None:
    rendition, circle = render(jpeg, "w-200,h-200:r-max")
    # Transparency needs alpha: the JPEG source becomes a PNG under f-auto.
    assert (circle.format, circle.mode, rendition.content_type) == ("PNG", "RGBA", "image/png")
    assert circle.getpixel((0, 0))[3] == 0 and circle.getpixel((100, 100))[3] == 255
    assert circle.getpixel((100, 1))[3] > 0 and circle.getpixel((199, 199))[3] == 0
    corners = render(jpeg, "w-200,h-200:r-20_0_40_0,f-png")[1]
    assert corners.getpixel((0, 0))[3] == 0 and corners.getpixel((199, 0))[3] == 255
    assert corners.getpixel((199, 199))[3] == 0 and corners.getpixel((0, 199))[3] == 255
    assert corners.getpixel((30, 30))[3] == 255
    flat = render(jpeg, "w-200,h-200:r-max,f-jpg")[1]
    assert flat.mode == "RGB" and near(flat.getpixel((1, 1)), (255, 255, 255), 10)


def test_border_blur_and_trim(render: Render, jpeg: Path, tmp_path: Path) -> None:
    bordered = render(jpeg, "w-100,b-5_FF0000", WEBP)[1]
    assert bordered.size == (110, 90) and near(bordered.getpixel((1, 1)), (255, 0, 0))
    assert near(bordered.getpixel((30, 20)), RED) and near(bordered.getpixel((80, 20)), GREEN)
    sharp = render(jpeg, "f-png")[1]
    blurred = render(jpeg, "bl-20,f-png")[1]
    edge = (500, 200)  # the red/green border
    assert not near(blurred.getpixel(edge), sharp.getpixel(edge), 20)
    framed = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(framed).rectangle((100, 50, 299, 249), fill=RED)
    source = save(framed, tmp_path / "framed.png", "PNG")
    assert render(source, "t-true")[1].size == (200, 200)
    assert render(source, "t-true,w-100")[1].size == (100, 100)  # trim, then resize


def test_blurred_and_dominant_backgrounds(render: Render, tmp_path: Path) -> None:
    image = Image.new("RGB", (400, 400), RED)
    ImageDraw.Draw(image).rectangle((0, 0, 40, 40), fill=GREEN)
    source = save(image, tmp_path / "mostly-red.png", "PNG")
    dominant = render(source, "w-400,h-200,cm-pad_resize,bg-dominant")[1]
    assert dominant.size == (400, 200) and near(dominant.getpixel((10, 100)), RED, 20)
    blurred = render(source, "w-400,h-200,cm-pad_resize,bg-blurred_40_N50")[1]
    assert blurred.size == (400, 200)
    darker = blurred.getpixel((10, 150))
    assert darker[0] < 220 and darker[1] < 60  # red, blurred and darkened


def test_quality_progressive_and_lossless(
    engine: TransformEngine, render: Render, jpeg: Path, tmp_path: Path
) -> None:
    low, high = render(jpeg, "q-10")[0], render(jpeg, "q-95")[0]
    assert low.path is not None and high.path is not None
    assert low.path.stat().st_size < high.path.stat().st_size
    progressive = render(jpeg, "pr-true")[1]
    assert progressive.info.get("progressive") or progressive.info.get("progression")
    assert not render(jpeg, "w-999")[1].info.get("progressive")
    noise = Image.frombytes("RGB", (64, 64), bytes((i * 7919) % 251 for i in range(64 * 64 * 3)))
    source = save(noise, tmp_path / "noise.png", "PNG")
    exact = render(source, "f-webp,lo-true")[1]
    assert exact.convert("RGB").tobytes() == noise.tobytes()


@pytest.mark.parametrize(
    ("accept", "avif", "content_type"),
    [
        (None, True, "image/jpeg"),
        ("*/*", True, "image/jpeg"),
        ("image/*", True, "image/jpeg"),
        ("image/webp", True, "image/webp"),
        ("image/webp;q=0, */*", True, "image/jpeg"),
        ("image/avif,image/webp,*/*", True, "image/avif"),
        ("image/avif,image/webp,*/*", False, "image/webp"),
        ("image/avif;q=0.5", True, "image/avif"),
    ],
)
def test_f_auto_follows_accept(
    tmp_path: Path, jpeg: Path, accept: str | None, avif: bool, content_type: str
) -> None:
    engine = TransformEngine(tmp_path / "cache", auto_avif=avif)
    for text in ("w-100", "", "f-auto,w-100"):
        chain = engine.parse(text)
        rendition = engine.render(chain, jpeg, digest_of(jpeg), accept)
        assert (rendition.content_type, rendition.vary_accept) == (content_type, True)
        assert rendition.path is not None
        assert Image.open(rendition.path).format == content_type.split("/")[1].upper()


@pytest.mark.parametrize(
    ("fmt", "mode", "expected"),
    [
        ("PNG", "RGB", "PNG"),
        ("PNG", "RGBA", "PNG"),
        ("WEBP", "RGB", "WEBP"),
        ("GIF", "RGB", "GIF"),
        ("TIFF", "RGB", "JPEG"),  # browsers do not show TIFF
        ("TIFF", "RGBA", "PNG"),
        ("BMP", "RGB", "JPEG"),  # decoded by Pillow: libvips has no BMP loader
    ],
)
def test_without_webp_the_original_format_is_kept(
    render: Render, tmp_path: Path, fmt: str, mode: str, expected: str
) -> None:
    source = save(quadrants(300, 200).convert(mode), tmp_path / f"source.{fmt.lower()}", fmt)
    _, picture = render(source, "w-150")
    assert picture.format == expected and picture.size == (150, 100)
    picture = picture.convert("RGB")
    assert near(picture.getpixel((30, 20)), RED) and near(picture.getpixel((120, 20)), GREEN)
    assert near(picture.getpixel((30, 80)), BLUE) and near(picture.getpixel((120, 80)), YELLOW)


def test_explicit_formats(render: Render, jpeg: Path, engine: TransformEngine) -> None:
    for text, fmt in (("f-png", "PNG"), ("f-webp", "WEBP"), ("f-avif", "AVIF"), ("f-gif", "GIF")):
        rendition, picture = render(jpeg, f"w-100,{text}", AVIF)
        assert picture.format == fmt and not rendition.vary_accept
    assert render(jpeg, "w-100,f-orig", AVIF)[1].format == "JPEG"
    with pytest.raises(BadTransformation, match="f-svg needs an SVG image"):
        engine.render(engine.parse("f-svg"), jpeg, digest_of(jpeg), None)


def test_svg_stays_svg_unless_pixels_are_asked_for(
    engine: TransformEngine, render: Render, tmp_path: Path
) -> None:
    source = tmp_path / "drawing.svg"
    source.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
        '<rect width="200" height="100" fill="#00ff00"/></svg>'
    )
    kept = engine.render(engine.parse("w-50"), source, digest_of(source), AVIF)
    assert kept.path is None  # the stored bytes
    picture = render(source, "w-50,f-png")[1]
    assert picture.size == (50, 25) and near(picture.getpixel((25, 12)), (0, 255, 0), 5)


@pytest.fixture
def animation(tmp_path: Path) -> Path:
    frames = [Image.new("RGB", (200, 100), c) for c in (RED, GREEN, BLUE)]
    path = tmp_path / "animation.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def frame_colours(picture: Image.Image, at: tuple[int, int]) -> list[tuple[int, ...]]:
    colours = []
    for index in range(picture.n_frames):  # type: ignore[attr-defined]
        picture.seek(index)
        colours.append(picture.convert("RGB").getpixel(at))
    return colours


def test_animations_stay_animated(render: Render, animation: Path) -> None:
    _, gif = render(animation, "w-100")
    assert (gif.format, gif.size, gif.n_frames) == ("GIF", (100, 50), 3)  # type: ignore[attr-defined]
    assert [
        near(c, e) for c, e in zip(frame_colours(gif, (50, 25)), (RED, GREEN, BLUE), strict=True)
    ] == [True] * 3
    webp = render(animation, "w-100", WEBP)[1]
    assert (webp.format, webp.n_frames) == ("WEBP", 3)  # type: ignore[attr-defined]
    avif = render(animation, "w-100", AVIF)[1]
    assert (avif.format, avif.n_frames) == ("WEBP", 3)  # type: ignore[attr-defined]
    # Every step runs on every frame alike.
    padded = render(animation, "w-100,h-100,cm-pad_resize,bg-FFFFFF:rt-90")[1]
    assert (padded.size, padded.n_frames) == ((100, 100), 3)  # type: ignore[attr-defined]
    assert near(frame_colours(padded, (5, 50))[1], (255, 255, 255), 10)
    assert near(frame_colours(padded, (50, 50))[2], BLUE)


def test_formats_that_cannot_animate_take_the_first_frame(render: Render, animation: Path) -> None:
    still = render(animation, "w-100,f-jpg")[1]
    assert still.format == "JPEG" and near(still.getpixel((50, 25)), RED)
    assert getattr(render(animation, "w-100,f-png")[1], "n_frames", 1) == 1


def test_the_builtin_thumbnail_keeps_todays_behaviour(
    engine: TransformEngine, jpeg: Path, tmp_path: Path
) -> None:
    digest = digest_of(jpeg)

    def opener(path: Path) -> Callable[[], BinaryIO]:
        return lambda: path.open("rb")

    path, content_type = engine.thumbnail(digest, opener(jpeg), True)
    assert content_type == "image/jpeg" and Image.open(path).size == (200, 160)
    small = save(quadrants(100, 50), tmp_path / "small.jpg", "JPEG")
    path, _ = engine.thumbnail(digest_of(small), opener(small), True)
    assert Image.open(path).size == (100, 50)  # never enlarged
    alpha = save(Image.new("RGBA", (400, 100), (0, 0, 255, 128)), tmp_path / "a.png", "PNG")
    path, content_type = engine.thumbnail(digest_of(alpha), opener(alpha), True)
    assert content_type == "image/png" and Image.open(path).mode == "RGBA"
    # The Accept header does not matter: one thumbnail per blob, no Vary.
    chain = engine.parse("n-ik_ml_thumbnail")
    with_webp = engine.render(chain, jpeg, digest, WEBP)
    assert with_webp.content_type == "image/jpeg" and not with_webp.vary_accept
    assert with_webp.etag == engine.render(chain, jpeg, digest, None).etag
    # Not an image, or bytes that do not decode: the placeholder.
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    path, content_type = engine.thumbnail(digest_of(text), opener(text), False)
    assert content_type == "image/png" and Image.open(path).size == (200, 200)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    assert engine.thumbnail(digest_of(broken), opener(broken), True)[0] == path
    sized = TransformEngine(tmp_path / "other", thumbnail_size=64)
    assert Image.open(sized.thumbnail(digest, opener(jpeg), True)[0]).size == (64, 51)


def test_what_cannot_be_transformed_is_served_as_stored(
    engine: TransformEngine, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    digest = digest_of(text)
    rendition = engine.render(engine.parse("w-100"), text, digest, WEBP, is_image=False)
    assert rendition == Rendition(None, None, f'"{digest}"', False)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    rendition = engine.render(engine.parse("w-100"), broken, digest_of(broken), None)
    assert rendition.path is None and rendition.content_type is None
    assert rendition.etag == engine.etag(engine.parse("w-100"), digest_of(broken), None)
    original = engine.render(engine.parse("orig-true,w-5"), broken, "ab" * 32, WEBP)
    assert original == Rendition(None, None, f'"{"ab" * 32}"', False)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` and holds almost nothing (a decompression bomb's
    header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bombs_are_refused_from_their_header(
    engine: TransformEngine, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(60000, 60000))
    started = time.monotonic()
    with pytest.raises(TransformationLimit) as raised:
        engine.render(engine.parse("w-100"), bomb, digest_of(bomb), None)
    assert time.monotonic() - started < 2
    assert raised.value.ik_error == (
        "ELIMIT - the image has 3600000000 pixels; at most 100000000 are transformed"
    )
    # The thumbnail the API links to every file is never refused: the placeholder.
    path, content_type = engine.thumbnail(digest_of(bomb), lambda: bomb.open("rb"), True)
    assert path == engine.placeholder() and content_type == "image/png"
    # The same for a format only Pillow reads.
    bmp = tmp_path / "bomb.bmp"
    bmp.write_bytes(
        b"BM"
        + struct.pack("<IHHI", 0, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 50000, 50000, 1, 24, 0, 0, 0, 0, 0, 0)
    )
    with pytest.raises(TransformationLimit):
        engine.render(engine.parse("w-100"), bmp, digest_of(bmp), None)


def test_limits_are_settings(tmp_path: Path, jpeg: Path, animation: Path) -> None:
    small = TransformEngine(tmp_path / "c1", max_input_pixels=100_000)
    with pytest.raises(TransformationLimit, match="800000 pixels"):
        small.render(small.parse("w-10"), jpeg, digest_of(jpeg), None)
    narrow = TransformEngine(tmp_path / "c2", max_output_side=500)
    with pytest.raises(TransformationLimit, match="at most 500 px"):
        narrow.render(narrow.parse("w-600"), jpeg, digest_of(jpeg), None)
    with pytest.raises(TransformationLimit, match="at most 500 px"):
        narrow.render(narrow.parse("w-400,h-400,c-force:rt-45"), jpeg, digest_of(jpeg), None)
    with pytest.raises(TransformationLimit, match="at most 500 px"):
        narrow.render(narrow.parse("w-490,h-490,c-force,b-10_FFFFFF"), jpeg, digest_of(jpeg), None)
    default = TransformEngine(tmp_path / "c3")
    with pytest.raises(TransformationLimit, match="at most 16383 px"):
        default.render(default.parse("w-20000"), jpeg, digest_of(jpeg), None)
    # Frames count together: an animation over the limit is refused, its first frame is not.
    frames = TransformEngine(tmp_path / "c4", max_input_pixels=50_000)
    with pytest.raises(TransformationLimit):
        frames.render(frames.parse("w-100"), animation, digest_of(animation), None)
    assert frames.render(frames.parse("w-100,f-jpg"), animation, digest_of(animation), None).path
    dpr = TransformEngine(tmp_path / "c5", max_dpr=2)
    with pytest.raises(BadTransformation):
        dpr.parse("w-100,dpr-3")


def test_etags(engine: TransformEngine, jpeg: Path) -> None:
    digest = digest_of(jpeg)

    def etag(text: str, accept: str | None = None, d: str = digest) -> str:
        chain = engine.parse(text)
        expected = engine.etag(chain, d, accept)
        if d == digest:
            assert engine.render(chain, jpeg, d, accept).etag == expected
        return expected

    assert etag("w-300,h-200") == etag("h-200,w-300,c-maintain_ratio")
    assert etag("w-300,h-200") != etag("w-300,h-201")
    assert len({etag("w-300", None), etag("w-300", WEBP), etag("w-300", AVIF)}) == 3
    assert etag("w-300,f-png", None) == etag("w-300,f-png", AVIF)
    assert etag("w-300") != etag("w-300", d="cd" * 32)
    assert etag("orig-true") == f'"{digest}"'
    assert etag("w-300").startswith(f'"{digest}-')


def test_a_source_can_be_a_reader(engine: TransformEngine, jpeg: Path) -> None:
    opened: list[int] = []

    def opener() -> BinaryIO:
        opened.append(1)
        return io.BytesIO(jpeg.read_bytes())

    rendition = engine.render(engine.parse("w-300,h-200,rt-90"), opener, digest_of(jpeg), None)
    assert rendition.path is not None and Image.open(rendition.path).size == (200, 300)
    count = len(opened)
    again = engine.render(engine.parse("h-200,w-300,rt-90"), opener, digest_of(jpeg), None)
    assert again.path == rendition.path and len(opened) == count  # cached: not opened again


class _FailingReader(io.BytesIO):
    """A reader whose store fails after the header."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() > 1000:
            raise OSError("the store went away")
        return super().read(min(size or 4096, 512) if size and size > 0 else 512)


def test_store_failures_are_raised_and_nothing_is_kept(engine: TransformEngine, jpeg: Path) -> None:
    digest = digest_of(jpeg)
    chain = engine.parse("w-300")
    with pytest.raises(OSError, match="the store went away"):
        engine.render(chain, lambda: _FailingReader(jpeg.read_bytes()), digest, None)
    folder = engine.cache.folder(digest)
    assert not folder.exists() or list(folder.iterdir()) == []
    assert engine.render(chain, jpeg, digest, None).path is not None  # and it recovers


_FUZZ_STEPS = st.lists(
    st.sampled_from(
        [
            "w-40",
            "h-30",
            "w-0.5",
            "w-1",
            "h-300",
            "ar-16-9",
            "dpr-2",
            "c-force",
            "c-at_max",
            "c-at_least",
            "c-maintain_ratio_no_enlarge",
            "cm-pad_resize",
            "cm-extract",
            "cm-pad_extract",
            "cm-pad_extract_no_shrink",
            "fo-auto",
            "fo-bottom_right",
            "x-10",
            "yc-20",
            "t-true",
            "rt-90",
            "rt-33",
            "fl-v",
            "bl-3",
            "e-grayscale",
            "r-max",
            "r-8",
            "b-3_00FF0080",
            "bg-blurred",
            "bg-dominant",
            "bg-FF000050",
            "f-webp",
            "f-png",
            "f-jpg",
            "f-gif",
            "q-30",
            "lo-true",
            "pr-true",
        ]
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda p: p.split("-")[0],
)


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(_FUZZ_STEPS, min_size=1, max_size=3),
    source_name=st.sampled_from(["jpg", "png", "gif", "tiny.png"]),
)
def test_any_valid_chain_renders_or_is_a_400(
    tmp_path_factory: pytest.TempPathFactory, steps: list[list[str]], source_name: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    engine = TransformEngine(folder / "cache", max_output_side=1000)
    source = folder / f"source.{source_name}"
    if source_name == "gif":
        frames = [Image.new("RGB", (64, 48), c) for c in (RED, GREEN)]
        frames[0].save(source, save_all=True, append_images=frames[1:], duration=50)
    elif source_name == "tiny.png":
        Image.new("RGB", (2, 1), GREEN).save(source)  # smaller than any filter window
    else:
        quadrants(64, 48).convert("RGBA" if source_name == "png" else "RGB").save(source)
    text = ":".join(",".join(step) for step in steps)
    try:
        chain = engine.parse(text)
        rendition = engine.render(chain, source, digest_of(source), AVIF)
    except BadTransformation:
        return  # a 400: limits, a box outside the image
    assert rendition.path is not None, text
    picture = Image.open(rendition.path)
    picture.load()
    assert min(picture.size) >= 1
