"""sniff_mime consults filetype's whole table for a text only when a textual format's matcher
matches: the answer is the one the whole table gives, for any head."""

from __future__ import annotations

import filetype
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mediavault.media import sniff
from mediavault.media.sniff import OCTET_STREAM, sniff_mime


def _reference(head: bytes) -> str:
    """sniff_mime as it was: the whole table for every head."""
    if not head:
        return OCTET_STREAM
    signed = filetype.guess_mime(head)
    if sniff._looks_like_text(head):
        if signed in sniff._TEXTUAL_SIGNATURES:
            return str(signed)
        return sniff._text_mime(sniff._decode(head))
    return str(signed) if signed else OCTET_STREAM


# Signatures of textual formats and of others found at other offsets, and text around them.
_PIECES = st.sampled_from(
    [
        b"%PDF", b"%!", b"{\\rtf", b"\xef\xbb\xbf", b"ftyp", b"ustar", b"PK\x03\x04", b"BM",
        b"GIF8", b"ID3", b"<svg>", b"<?xml ", b"<html>", b"{}", b" ", b"\n", b"text ", b"\x00",
        b"\xff\xfe", b"RIFF", b"WAVE", b"OggS", b"\x1a\x45\xdf\xa3", b"abc" * 90,
    ]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.binary(max_size=8)), max_size=12).map(b"".join))
@example(b"%PDFftypisom and text")
@example(b"%!PS-Adobe-3.0\n" + b" " * 300)
@example(b"x" * 257 + b"ustar  " + b"text" * 10)
@example(b"\xef\xbb\xbf%PDF-1.4 text")
def test_the_shortcut_gives_the_whole_tables_answer(head: bytes) -> None:
    assert sniff_mime(head) == _reference(head)
