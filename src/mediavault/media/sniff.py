"""MIME type of stored bytes, from their first bytes; the client's word is never trusted.

Binary formats are recognised by their signature (the pure-Python `filetype` package, so a
fresh machine needs no libmagic). Text is classified here: whether a document is HTML, XML or
SVG decides how delivery serves it (see docs/decisions.md, "Delivery"), so that rule is ours,
small and tested rather than left to a signature table.
"""

from __future__ import annotations

import codecs
import json
import re

import filetype

OCTET_STREAM = "application/octet-stream"

# Control bytes that plain text never holds (the same set `file` uses); tab, newlines, form
# feed, backspace and escape are allowed.
_BINARY_BYTES = bytes([*range(0x00, 0x07), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_TEXT_BYTES = bytes(b for b in range(256) if b not in _BINARY_BYTES)

# Formats that are text by design: a text-looking head may carry their signature. Any other
# signature on text ("BMW ...", "GIFs are ...", "ID3 tags") is a coincidence, not a format.
_TEXTUAL_SIGNATURES = frozenset({"application/pdf", "application/postscript", "application/rtf"})
# Their matchers (each reads the first bytes of what it is given), from the table that
# filetype.guess_mime consults (`filetype.types`, its list of matchers).
_TEXTUAL_MATCHERS = tuple(
    matcher for matcher in filetype.types if matcher.mime in _TEXTUAL_SIGNATURES
)

# What may come before the root element of a markup document: whitespace, the XML
# declaration and other processing instructions, comments, a doctype (with its internal subset).
_PROLOG_ITEM = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!doctype\s+(?P<doctype>[\w:.-]+)(?:[^>\[]|\[.*?\])*>",
    re.IGNORECASE | re.DOTALL,
)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
# Elements that only an HTML document starts with.
_HTML_ROOTS = frozenset(
    {"html", "head", "body", "title", "meta", "link", "base", "script", "style", "iframe"}
    | {"frameset", "table", "form", "a", "div", "p"}
)


def sniff_mime(head: bytes) -> str:
    """The MIME type of a file whose first bytes are `head` (up to the whole file)."""
    if not head:
        return OCTET_STREAM
    if _looks_like_text(head):
        # filetype's answer counts for a text only when it is one of the textual formats, and
        # only their own matchers can give one: the whole table (79 matchers, 50 to 90 µs) is
        # consulted only when one of them matches.
        if any(matcher.match(head) for matcher in _TEXTUAL_MATCHERS):
            signed = filetype.guess_mime(head)
            if signed in _TEXTUAL_SIGNATURES:
                return str(signed)
        return _text_mime(_decode(head))
    signed = filetype.guess_mime(head)
    return str(signed) if signed else OCTET_STREAM


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True  # UTF-16 is full of NULs, but it is text all the same
    return not head.translate(None, _TEXT_BYTES)


def _decode(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    # Latin-1 and a character cut at the end of the head become U+FFFD: markup is ASCII.
    return head.decode("utf-8", errors="replace").removeprefix("\ufeff")


def _text_mime(text: str) -> str:
    xml_declared = text.lstrip().startswith("<?xml")
    doctype, root = _doctype_and_root(text)
    if root == "svg" or doctype == "svg":
        return "image/svg+xml"
    if xml_declared:
        return "text/xml"
    if doctype == "html" or root in _HTML_ROOTS:
        return "text/html"
    if _is_json(text):
        return "application/json"
    return "text/plain"


def _doctype_and_root(text: str) -> tuple[str | None, str | None]:
    """The doctype's name and the root element's local name, lower-cased, when present."""
    doctype = None
    position = 0
    while match := _PROLOG_ITEM.match(text, position):
        doctype = (match.group("doctype") or doctype or "").lower() or None
        position = match.end()
    root = _ROOT.match(text, position)
    return doctype, root.group(1).rpartition(":")[2].lower() if root else None


def _is_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):  # a cut head or a hostile nesting is just text
        return False
    return True
