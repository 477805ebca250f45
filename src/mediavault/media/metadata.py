"""What a picture says about itself: EXIF groups, the embedded metadata, the quality estimate.

Two shapes, both read by Pillow from the headers (no pixel is decoded here):

* `exif_groups`: the `exif` object of the metadata API (spec §4.4), raw EXIF values under
  ExifTool's tag names (the SDK model's keys): `image` (IFD0), `thumbnail` (IFD1), `exif`,
  `gps`, `interoperability`, and `makernote` (always `{}`: maker notes are vendor formats).
* `embedded_metadata`: the File object's flat `embeddedMetadata` (spec §4.6), made at upload
  and stored with the version: the same tags, human-readable (`Orientation: "Horizontal
  (normal)"`, dates in ISO 8601, GPS in signed decimal degrees), with IPTC's common fields and
  the XMP packet's properties.

Hostile headers stay cheap: a JPEG's APP1 segment is at most 64 KiB, Pillow reads every other
block within the file's own size, and what comes out is bounded here (MAX_TAGS tags per group,
MAX_TEXT characters per text, MAX_LIST values per list). Any parse error leaves the group empty.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime
from typing import Any

from PIL import ExifTags, Image, ImageFile, TiffImagePlugin

MAX_TAGS = 200
MAX_TEXT = 1000
MAX_LIST = 64

_PARSE_ERRORS = (
    OSError, ValueError, KeyError, TypeError, SyntaxError, IndexError, struct.error,
    RecursionError, ZeroDivisionError,
)  # fmt: skip

# Pillow's tag names where ExifTool (and so ImageKit and its SDK model) says otherwise.
_RENAMED = {
    "DateTime": "ModifyDate",
    "DateTimeDigitized": "CreateDate",
    "ISOSpeedRatings": "ISO",
    "ExposureBiasValue": "ExposureCompensation",
    "FocalLengthIn35mmFilm": "FocalLengthIn35mmFormat",
    "SubsecTime": "SubSecTime",
    "SubsecTimeOriginal": "SubSecTimeOriginal",
    "SubsecTimeDigitized": "SubSecTimeDigitized",
    "ExifInteroperabilityOffset": "InteropOffset",
    "JpegIFOffset": "ThumbnailOffset",
    "JpegIFByteCount": "ThumbnailLength",
    "LensMake": "LensMake",
}
_INTEROP_NAMES = {1: "InteropIndex", 2: "InteropVersion"}
_UNDEFINED_TEXT = frozenset({"ExifVersion", "FlashpixVersion", "InteropVersion"})

_ORIENTATION = {
    1: "Horizontal (normal)",
    2: "Mirror horizontal",
    3: "Rotate 180",
    4: "Mirror vertical",
    5: "Mirror horizontal and rotate 270 CW",
    6: "Rotate 90 CW",
    7: "Mirror horizontal and rotate 90 CW",
    8: "Rotate 270 CW",
}
_RESOLUTION_UNIT = {1: "None", 2: "inches", 3: "cm"}
_COLOR_SPACE = {1: "sRGB", 2: "Adobe RGB", 0xFFFF: "Uncalibrated"}
_DATES = frozenset({"ModifyDate", "CreateDate", "DateTimeOriginal"})
# IPTC application record datasets (2:n) with ExifTool's names.
_IPTC = {
    5: "ObjectName",
    25: "Keywords",
    80: "By-line",
    90: "City",
    95: "Province-State",
    101: "Country-PrimaryLocationName",
    105: "Headline",
    110: "Credit",
    115: "Source",
    116: "CopyrightNotice",
    120: "Caption-Abstract",
}
_IPTC_LISTS = frozenset({"Keywords"})


def exif_groups(image: Image.Image) -> dict[str, dict[str, Any]]:
    """The metadata API's `exif` object of an opened picture; every group present, maybe {}."""
    groups: dict[str, dict[str, Any]] = {
        "image": {},
        "thumbnail": {},
        "exif": {},
        "gps": {},
        "interoperability": {},
        "makernote": {},
    }
    try:
        exif = image.getexif()
        groups["image"] = _named(exif, ExifTags.TAGS)
        for key, ifd, names in (
            ("exif", ExifTags.IFD.Exif, ExifTags.TAGS),
            ("gps", ExifTags.IFD.GPSInfo, ExifTags.GPSTAGS),
            ("interoperability", ExifTags.IFD.Interop, _INTEROP_NAMES),
            ("thumbnail", ExifTags.IFD.IFD1, ExifTags.TAGS),
        ):
            try:
                groups[key] = _named(exif.get_ifd(ifd), names)
            except _PARSE_ERRORS:
                groups[key] = {}
    except _PARSE_ERRORS:
        pass
    groups["exif"].pop("MakerNote", None)
    return groups


def embedded_metadata(image: Image.Image) -> dict[str, Any] | None:
    """The flat, readable `embeddedMetadata` of an opened picture; None when it has none."""
    groups = exif_groups(image)
    flat: dict[str, Any] = {}
    for key in ("image", "exif"):
        for name, value in groups[key].items():
            if name in ("ExifOffset", "GPSInfo", "InteropOffset"):
                continue
            flat[name] = _readable(name, value)
    flat.update(_gps_readable(groups["gps"]))
    flat.update(_iptc(image))
    for name, value in _xmp(image).items():
        flat.setdefault(name, value)  # EXIF and IPTC first: XMP often repeats them
    density = image.info.get("dpi")
    if not flat and isinstance(density, tuple) and len(density) == 2:
        flat["XResolution"], flat["YResolution"] = (_number(v) for v in density)
    return dict(list(flat.items())[:MAX_TAGS]) or None


def quality_estimate(image: Image.Image) -> int:
    """A JPEG's quality (1..100) estimated from its luminance quantization table against the
    IJG standard table, as libjpeg scales it; 0 for anything else (ImageKit's value)."""
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables or 0 not in tables:
        return 0
    luminance: list[int] = [int(v) for v in list(tables[0])[:64]]
    if len(luminance) != 64:
        return 0
    # Sorted, so that the order a table is stored in (zigzag or natural) does not matter:
    # libjpeg's scaling keeps the entries' order. Entries clamped at 255 (low qualities) or
    # at 1 (the highest) say less than the others, and are left out when others remain.
    pairs = list(zip(sorted(luminance), sorted(_IJG_LUMINANCE), strict=True))
    unclamped = [(q, std) for q, std in pairs if 1 < q < 255] or pairs
    scale = 100 * sum(q for q, _ in unclamped) / sum(std for _, std in unclamped)
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


_IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def density(image: Image.Image) -> int:
    """Dots per inch from the header (JFIF, pHYs, TIFF); 72 when the picture does not say."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) and dpi else 0.0
    except (TypeError, ValueError):
        value = 0.0
    return round(value) if math.isfinite(value) and 0 < value < 1_000_000 else 72


def has_transparency(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def format_name(image: Image.Image) -> str:
    name = (image.format or "").lower()
    return {"jpeg": "jpg", "tiff": "tiff"}.get(name, name)


def _named(ifd: Any, names: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, value in list(ifd.items())[:MAX_TAGS]:
        name = names.get(tag)
        if name is None:
            continue
        name = _RENAMED.get(name, name)
        converted = _raw(name, value)
        if converted is not None:
            out[name] = converted
    return out


def _raw(name: str, value: Any) -> Any:
    """An EXIF value as JSON: rationals as numbers, text trimmed, small byte strings decoded."""
    if isinstance(value, TiffImagePlugin.IFDRational | float):
        return _number(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value.strip("\x00 ")[:MAX_TEXT]
    if isinstance(value, bytes):
        if name in _UNDEFINED_TEXT or name == "SceneType":
            if name == "SceneType" and len(value) == 1:
                return value[0]
            return value.decode("ascii", "replace").strip("\x00 ")[:MAX_TEXT]
        if name == "UserComment":
            return value[8:].decode("utf-8", "replace").strip("\x00 ")[:MAX_TEXT]
        if name == "GPSVersionID":
            return list(value[:4])
        return None  # binary blobs (maker notes, print images) are not shown
    if isinstance(value, tuple | list):
        items = [_raw(name, v) for v in value[:MAX_LIST]]
        return [v for v in items if v is not None]
    return None


def _number(value: Any) -> float | int | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else round(number, 6)


def _readable(name: str, value: Any) -> Any:
    if name == "Orientation":
        return _ORIENTATION.get(value, value)
    if name in ("ResolutionUnit", "FocalPlaneResolutionUnit"):
        return _RESOLUTION_UNIT.get(value, value)
    if name == "ColorSpace":
        return _COLOR_SPACE.get(value, value)
    if name in _DATES and isinstance(value, str):
        return exif_date_iso(value) or value
    return value


def exif_date_iso(text: str) -> str | None:
    """ "2008:05:30 15:56:01" as "2008-05-30T15:56:01.000Z" (EXIF dates carry no zone)."""
    try:
        moment = datetime.strptime(text.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _gps_readable(gps: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for axis, negative in (("Latitude", "S"), ("Longitude", "W")):
        parts = gps.get(f"GPS{axis}")
        if (
            isinstance(parts, list)
            and len(parts) == 3
            and all(isinstance(p, int | float) for p in parts)
        ):
            degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
            if str(gps.get(f"GPS{axis}Ref", "")).upper().startswith(negative):
                degrees = -degrees
            out[f"GPS{axis}"] = round(degrees, 7)
    if "GPSAltitude" in gps:
        out["GPSAltitude"] = gps["GPSAltitude"]
    if "GPSLatitude" in out and "GPSLongitude" in out:
        out["GPSPosition"] = f"{out['GPSLatitude']}, {out['GPSLongitude']}"
    return out


def _xmp(image: Image.Image) -> dict[str, Any]:
    """The XMP packet's properties, with ExifTool's capitalised names (`Rating`, `Creator`,
    `City`, `Subject`, `Title`); lists (Seq, Bag) as lists, language alternatives as their
    first text. Pillow parses the XML with defusedxml: no entity expansion, no network."""
    getxmp = getattr(image, "getxmp", None)
    if getxmp is None:
        return {}
    try:
        packet = getxmp()
    except Exception:  # malformed XML or a parser limit: the picture simply has no XMP
        return {}
    rdf = packet.get("xmpmeta", {}).get("RDF", {}) if isinstance(packet, dict) else {}
    descriptions = rdf.get("Description", []) if isinstance(rdf, dict) else []
    if isinstance(descriptions, dict):
        descriptions = [descriptions]
    out: dict[str, Any] = {}
    for description in descriptions[:MAX_LIST] if isinstance(descriptions, list) else []:
        if not isinstance(description, dict):
            continue
        for name, raw in description.items():
            value = _xmp_value(raw)
            if name != "about" and value is not None and len(out) < MAX_TAGS:
                out[name[:1].upper() + name[1:]] = value
    return out


def _xmp_value(raw: Any) -> Any:
    if isinstance(raw, str):
        return raw[:MAX_TEXT]
    if not isinstance(raw, dict):
        return None
    if "text" in raw and isinstance(raw["text"], str):
        return raw["text"][:MAX_TEXT]  # an element with attributes (xml:lang) and text
    for container in ("Seq", "Bag", "Alt"):
        items = raw.get(container, {}).get("li") if isinstance(raw.get(container), dict) else None
        if items is None:
            continue
        texts = [t for t in map(_xmp_value, items if isinstance(items, list) else [items]) if t]
        texts = [t for t in texts if isinstance(t, str)][:MAX_LIST]
        if not texts:
            return None
        return texts[0] if container == "Alt" else texts
    return None


def _iptc(image: Image.Image) -> dict[str, Any]:
    if image.format not in ("JPEG", "TIFF") or not isinstance(image, ImageFile.ImageFile):
        return {}
    try:
        from PIL import IptcImagePlugin

        info = IptcImagePlugin.getiptcinfo(image) or {}
    except _PARSE_ERRORS:
        return {}
    out: dict[str, Any] = {}
    for (record, dataset), value in list(info.items())[:MAX_TAGS]:
        name = _IPTC.get(dataset) if record == 2 else None
        if name is None:
            continue
        values = value if isinstance(value, list) else [value]
        texts = [
            v.decode("utf-8", "replace")[:MAX_TEXT]
            for v in values[:MAX_LIST]
            if isinstance(v, bytes)
        ]
        if texts:
            out[name] = texts if name in _IPTC_LISTS else texts[0]
    return out
