"""File and folder names as ImageKit normalises them.

Names are metadata, never file-system paths: blobs are stored by content hash. Normalising still
matters, because the names become delivery URLs: a name of dots or a `..` segment would make a
URL that clients rewrite before it reaches us.
"""

from __future__ import annotations

import secrets
import string
import unicodedata

from mediavault.errors import InvalidRequest

MAX_FILE_NAME_CHARS = 255
MAX_FOLDER_DEPTH = 50
MAX_FOLDER_SEGMENT_CHARS = 255
_SUFFIX_ALPHABET = string.ascii_letters + string.digits


def sanitize_file_name(raw: str) -> str:
    """Keep letters, marks, numerals, `.` and `-`; every other character becomes `_`."""
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise InvalidRequest("Your request is missing fileName parameter.")
    name = "".join(c if _is_name_char(c, extra=".-_") else "_" for c in name)
    if set(name) == {"."}:
        raise InvalidRequest("Your request contains invalid fileName parameter.")
    if len(name) > MAX_FILE_NAME_CHARS:
        raise InvalidRequest(
            f"Your request contains invalid fileName parameter. "
            f"The file name can be at most {MAX_FILE_NAME_CHARS} characters long."
        )
    return name


def normalize_folder(raw: str | None) -> str:
    """`a\\b//c/` -> `/a/b/c/`; characters other than letters, digits, `_` and `-` become `_`.

    Dots are not folder characters, so `..` can never survive as a segment.
    """
    text = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    segments = [s for s in (seg.strip() for seg in text.split("/")) if s]
    if len(segments) > MAX_FOLDER_DEPTH:
        raise InvalidRequest(
            "Your request contains invalid folder parameter. "
            f"Folders can be nested at most {MAX_FOLDER_DEPTH} levels deep."
        )
    cleaned = []
    for segment in segments:
        if len(segment) > MAX_FOLDER_SEGMENT_CHARS:
            raise InvalidRequest(
                "Your request contains invalid folder parameter. "
                f"A folder name can be at most {MAX_FOLDER_SEGMENT_CHARS} characters long."
            )
        cleaned.append("".join(c if _is_name_char(c, extra="_-") else "_" for c in segment))
    return "/" + "".join(f"{s}/" for s in cleaned)


def unique_file_name(name: str) -> str:
    """`cat.jpg` -> `cat_<11 random chars>.jpg`, as ImageKit does for useUniqueFileName=true."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(11))
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    tail = f"_{suffix}.{extension}" if extension else f"_{suffix}"
    return stem[: MAX_FILE_NAME_CHARS - len(tail)] + tail


def _is_name_char(char: str, extra: str) -> bool:
    return char in extra or unicodedata.category(char)[0] in "LMN"


def folder_ancestors(folder_path: str) -> list[str]:
    """`/a/b/` -> [`/a/`, `/a/b/`]: every folder an upload into `folder_path` implies."""
    segments = [s for s in folder_path.split("/") if s]
    return [
        "/" + "".join(f"{s}/" for s in segments[:depth]) for depth in range(1, len(segments) + 1)
    ]


def folder_name_of(folder_path: str) -> str:
    return folder_path.rstrip("/").rpartition("/")[2]


def sanitize_folder_name(raw: str) -> str:
    """A new folder's name: letters, marks and numerals stay; anything else becomes `_`."""
    name = unicodedata.normalize("NFC", raw).strip()
    if name in ("", ".", ".."):
        raise InvalidRequest("'.' & '..' can not be used as folder-name")
    if len(name) > MAX_FOLDER_SEGMENT_CHARS:
        raise InvalidRequest(
            f"Your request contains invalid folderName parameter. "
            f"A folder name can be at most {MAX_FOLDER_SEGMENT_CHARS} characters long."
        )
    return "".join(c if _is_name_char(c, extra="_-") else "_" for c in name)
