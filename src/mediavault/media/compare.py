"""The difference between two pictures: changed pixels, mean difference, perceptual hash, heatmap;
and a picture's own perceptual hash (`phash`, the metadata API's `pHash`).

Both pictures are decoded upright (first frame), flattened onto white, and compared at the
smaller width and the smaller height of the two (each resized to exactly that). A pixel has
changed when one of its red, green or blue values differs by CHANGED_THRESHOLD or more (of
255): lossy re-encoding moves values by a few steps without anything having changed.

Decoding goes through the transformation pipeline (media/transform/pipeline.py): the same
allowed loaders, the same pixel limit, checked from the header before decoding. Blocking:
run it in a worker thread.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediavault.errors import TransformationLimit
from mediavault.media.transform.inputs import Limits, Source

if TYPE_CHECKING:
    import pyvips

CHANGED_THRESHOLD = 16
HASH_SIZE = 8  # a 64-bit dHash: 8 rows of 8 left-right comparisons


@dataclass(frozen=True)
class ImageDifference:
    from_size: tuple[int, int]
    to_size: tuple[int, int]
    changed_pixel_ratio: float  # 0..1, of the compared pixels
    mean_absolute_difference: float  # 0..1: mean over pixels and R, G, B of |a - b| / 255
    perceptual_hash_distance: int  # 0..64: bits that differ between the two dHashes


def difference(before: Source, after: Source, limits: Limits) -> ImageDifference | None:
    """None when either is not a picture this server decodes."""
    pair = _decoded_pair(before, after, limits)
    if pair is None:
        return None
    (a, b), from_size, to_size = pair
    largest = _largest_band_difference(a, b)
    changed = float(largest.relational_const("moreeq", [CHANGED_THRESHOLD]).avg()) / 255
    mean = float((a.cast("short") - b.cast("short")).abs().avg()) / 255
    distance = bin(_dhash(a) ^ _dhash(b)).count("1")
    return ImageDifference(from_size, to_size, round(changed, 6), round(mean, 6), distance)


def heatmap_png(before: Source, after: Source, limits: Limits) -> bytes | None:
    """A PNG at the compared size: black where the pictures agree, and where a pixel changed,
    red (a difference just over the threshold) through to white (the largest difference):
    (255, d, d) for a largest band difference d. None when either is not a picture."""
    pair = _decoded_pair(before, after, limits)
    if pair is None:
        return None
    (a, b), _, _ = pair
    largest = _largest_band_difference(a, b)
    changed = largest.relational_const("moreeq", [CHANGED_THRESHOLD])
    red = changed.ifthenelse(255, 0)
    rest = changed.ifthenelse(largest, 0)
    image = red.bandjoin([rest, rest]).cast("uchar").copy(interpretation="srgb")
    png: bytes = image.pngsave_buffer()
    return png


def _decoded_pair(
    before: Source, after: Source, limits: Limits
) -> tuple[tuple[pyvips.Image, pyvips.Image], tuple[int, int], tuple[int, int]] | None:
    # Imported here: libvips is about 20 MB of a process that never compares or transforms.
    from mediavault.media.transform import pipeline

    from_size = pipeline.upright_size(before, limits)
    to_size = pipeline.upright_size(after, limits) if from_size else None
    if from_size is None or to_size is None:
        return None
    size = (min(from_size[0], to_size[0]), min(from_size[1], to_size[1]))
    a = pipeline.decode_upright(before, size, limits)
    b = pipeline.decode_upright(after, size, limits) if a is not None else None
    if a is None or b is None:
        return None
    return (_rgb(a), _rgb(b)), from_size, to_size


def _rgb(image: pyvips.Image) -> pyvips.Image:
    """Three 8-bit bands, transparency flattened onto white."""
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.extract_band(0, n=3).cast("uchar")


def _largest_band_difference(a: pyvips.Image, b: pyvips.Image) -> pyvips.Image:
    """One band: for each pixel, the largest of |a - b| over red, green and blue."""
    bands = (a.cast("short") - b.cast("short")).abs()
    largest = bands[0]
    for index in (1, 2):
        band = bands[index]
        largest = (band > largest).ifthenelse(band, largest)
    result: Any = largest.cast("uchar")
    return result


def _dhash(image: pyvips.Image) -> int:
    """64-bit difference hash: grey, 9x8, each pixel brighter than its right neighbour."""
    grey = image.colourspace("b-w")[0]
    small = grey.thumbnail_image(HASH_SIZE + 1, height=HASH_SIZE, size="force").cast("uchar")
    pixels = small.write_to_memory()
    bits = 0
    for row in range(HASH_SIZE):
        line = pixels[row * (HASH_SIZE + 1) : (row + 1) * (HASH_SIZE + 1)]
        for column in range(HASH_SIZE):
            bits = (bits << 1) | (line[column] > line[column + 1])
    return bits


PHASH_SIZE = 32  # the picture is hashed at 32x32; the lowest 8x8 frequencies make the bits


def phash(source: Source, limits: Limits) -> str | None:
    """The DCT perceptual hash as 16 hex digits, as `imagehash.phash` computes it: the picture
    (upright, flattened onto white) grey at 32x32, a 2-D DCT-II, its top-left 8x8 block (the
    lowest frequencies, DC included), one bit per coefficient above the block's median, row by
    row, most significant bit first. None when it is not a picture this server decodes (or is
    beyond the pixel limit)."""
    from mediavault.media.transform import pipeline

    try:
        image = pipeline.decode_upright(source, (PHASH_SIZE, PHASH_SIZE), limits)
    except TransformationLimit:
        return None
    if image is None:
        return None
    grey = _rgb(image).colourspace("b-w")[0].cast("uchar")
    pixels = grey.write_to_memory()
    rows = [list(pixels[y * PHASH_SIZE : (y + 1) * PHASH_SIZE]) for y in range(PHASH_SIZE)]
    low = _dct_low(rows, HASH_SIZE)
    median = statistics.median(v for row in low for v in row)
    bits = 0
    for row in low:
        for value in row:
            bits = (bits << 1) | (value > median)
    return f"{bits:016x}"


def phash_distance(a: str, b: str) -> int:
    """Bits that differ between two pHash values (the old Node SDK's pHashDistance)."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _dct_low(rows: list[list[int]], keep: int) -> list[list[float]]:
    """The first `keep` x `keep` coefficients of the unnormalised 2-D DCT-II (scipy's `dct`
    default, which imagehash uses): along columns (rows of the result), then along rows."""
    n = len(rows)
    cos = [[math.cos(math.pi * (2 * x + 1) * u / (2 * n)) for x in range(n)] for u in range(keep)]
    # First pass over each column: frequency u down the picture.
    down = [
        [2 * sum(cos[u][y] * rows[y][x] for y in range(n)) for x in range(n)] for u in range(keep)
    ]
    return [
        [2 * sum(cos[v][x] * down[u][x] for x in range(n)) for v in range(keep)]
        for u in range(keep)
    ]
