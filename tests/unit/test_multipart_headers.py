"""The upload form reader: its shortcut for plain part headers says what python-multipart says,
and a form reads the same however its body is cut into chunks."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_multipart.multipart import parse_options_header

from mediavault.api import multipart
from mediavault.api.multipart import FormReader, UploadForm, _disposition, _form_boundary
from mediavault.errors import InvalidRequest
from mediavault.storage.blobs import BlobWriter, LocalBlobStore


def _reference_disposition(header: bytes) -> tuple[str, bool]:
    _, options = parse_options_header(header)
    return options.get(b"name", b"").decode("utf-8", "replace"), b"filename" in options


def _reference_boundary(content_type: str) -> tuple[bytes, bytes | None]:
    kind, options = parse_options_header(content_type)
    return kind, options.get(b"boundary")


# Characters that matter to the header syntax, and some that do not.
_TRICKY = st.sampled_from(
    ['"', "\\", ";", "=", " ", "\t", "*", ":", "a", "Z", "0", ".", "é", "\x00", "%", "\\\\"]
)
_VALUE = st.lists(st.one_of(_TRICKY, st.characters(max_codepoint=0xFF)), max_size=12).map("".join)


@st.composite
def dispositions(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["form-data", "Form-Data", "form-data ", "attachment", ""]))
    params = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(["name", "filename", "Name", "name*", "filename*", "x"]))
        value = draw(_VALUE)
        quoted = draw(st.booleans())
        spacing = draw(st.sampled_from(["; ", ";", " ; ", ";  "]))
        params.append(f"{spacing}{key}={chr(34) + value + chr(34) if quoted else value}")
    text = kind + "".join(params) + draw(st.sampled_from(["", " ", "\t", ";"]))
    return text.encode("latin-1")


@settings(max_examples=3000, deadline=None)
@given(dispositions())
def test_part_headers_read_as_python_multipart_reads_them(header: bytes) -> None:
    assert _disposition(header) == _reference_disposition(header)


@pytest.mark.parametrize(
    "header",
    [
        b'form-data; name="fileName"',
        b'form-data; name="file"; filename="a.bin"',
        b'form-data; name=""; filename=""',
        b'form-data; name="caf\xc3\xa9"',
        b'form-data; name="bad \xff"',
        b'form-data; name="a;b"',
        b'form-data; name="a\\"b"; filename="C:\\\\x\\\\y.jpg"',
        b"form-data; name=\"x\"; filename*=UTF-8''a.bin",
        b"form-data; name=file; filename=a.bin",
        b'form-data; name="x" ',
    ],
)
def test_plain_and_unusual_part_headers(header: bytes) -> None:
    assert _disposition(header) == _reference_disposition(header)


@st.composite
def content_types(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(["multipart/form-data", "Multipart/Form-Data", "text/plain", "multipart"])
    )
    params = []
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(["boundary", "Boundary", "boundary*", "charset"]))
        value = draw(_VALUE)
        quoted = draw(st.booleans())
        spacing = draw(st.sampled_from(["; ", ";", " ; "]))
        params.append(f"{spacing}{key}={chr(34) + value + chr(34) if quoted else value}")
    return kind + "".join(params)


@settings(max_examples=3000, deadline=None)
@given(content_types())
def test_content_types_read_as_python_multipart_reads_them(content_type: str) -> None:
    assert _form_boundary(content_type) == _reference_boundary(content_type)


# --- whole forms, cut into chunks ----------------------------------------------------------

BOUNDARY = b"b0undary-x"


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n"
        + value + b"\r\n"
    )  # fmt: skip


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


async def _read(
    store: LocalBlobStore, body: bytes, cuts: list[int], **limits: int
) -> UploadForm | str:
    async def stream() -> AsyncIterator[bytes]:
        start = 0
        for cut in [*sorted(cuts), len(body)]:
            yield body[start:cut]
            start = cut

    reader = FormReader(
        store,
        limits.get("max_file", 1 << 20),
        limits.get("max_field", 1024),
        max_fields=limits.get("max_fields", 100),
        max_fields_total_bytes=limits.get("max_total", 64 * 1024),
    )
    try:
        return await reader.read("multipart/form-data; boundary=" + BOUNDARY.decode(), stream())
    except InvalidRequest as exc:
        return f"{type(exc).__name__}: {exc.message}"


def _outcome(store: LocalBlobStore, body: bytes, cuts: list[int], **limits: int) -> object:
    form = asyncio.run(_read(store, body, cuts, **limits))
    if isinstance(form, str):
        return form
    file = form.file
    summary = (
        dict(form.fields),
        form.file_is_text,
        None if file is None else (file.digest, file.size, file.head[:16]),
    )
    if file is not None:
        store.discard(file)
    return summary


FILE = bytes(range(256)) * 40
FORMS = {
    "file last": (
        _body(_part("fileName", b"a.bin"), _part("folder", b"/x"), _part("file", FILE, "a")),
        {},
    ),
    "file first": (_body(_part("file", FILE, "a"), _part("fileName", b"a.bin")), {}),
    "text file": (_body(_part("file", b"aGVsbG8="), _part("fileName", b"a.bin")), {}),
    "two files": (_body(_part("file", FILE, "a"), _part("file", FILE, "b")), {}),
    "field too long": (_body(_part("fileName", b"x" * 2000), _part("file", FILE, "a")), {}),
    "too many fields": (
        _body(*(_part(f"f{i}", b"v") for i in range(5)), _part("file", FILE, "a")),
        {"max_fields": 3},
    ),
    "too many fields, then malformed": (
        _body(*(_part(f"f{i}", b"v") for i in range(5)))[:-4] + b"\r\nno boundary",
        {"max_fields": 3},
    ),
    "file too large, then too many fields": (
        _body(_part("file", FILE, "a"), *(_part(f"f{i}", b"v") for i in range(5))),
        {"max_fields": 3, "max_file": 1000},
    ),
    "not utf-8": (_body(_part("fileName", b"\xff\xfe"), _part("file", FILE, "a")), {}),
    "sent twice": (_body(_part("n", b"1"), _part("n", b"2"), _part("file", FILE, "a")), {}),
    "headers over the total": (
        _body(_part("a" * 300, b"v"), _part("file", FILE, "a")),
        {"max_total": 200},
    ),
    "truncated in the file": (_body(_part("fileName", b"a"), _part("file", FILE, "a"))[:-200], {}),
}


# Two errors in one form: which one a client hears depends on the chunk each arrives in.
_ORDER_DEPENDS_ON_CUTS = {"too many fields, then malformed"}


@pytest.mark.parametrize("batch", [multipart.WRITE_BATCH_BYTES, 1000])
@pytest.mark.parametrize("name", sorted(set(FORMS) - _ORDER_DEPENDS_ON_CUTS))
def test_a_form_reads_the_same_however_it_is_cut(
    tmp_path: Path, name: str, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with batches smaller than the file (1000 bytes): written while it arrives."""
    monkeypatch.setattr(multipart, "WRITE_BATCH_BYTES", batch)
    body, limits = FORMS[name]
    store = LocalBlobStore(tmp_path / "blobs")
    whole = _outcome(store, body, [], **limits)
    rng = random.Random(name)
    cuttings = [
        list(range(1, len(body))),  # byte by byte
        *([rng.randrange(1, len(body)) for _ in range(rng.randrange(1, 8))] for _ in range(20)),
    ]
    for cuts in cuttings:
        assert _outcome(store, body, cuts, **limits) == whole, cuts
    assert not list(store.staging_objects())  # nothing left staged, whatever the outcome


def test_the_outcomes_of_the_forms(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")

    def outcome(name: str) -> object:
        body, limits = FORMS[name]
        return _outcome(store, body, [], **limits)

    digest = hashlib.sha256(FILE).hexdigest()
    assert outcome("file last") == (
        {"fileName": "a.bin", "folder": "/x"}, False, (digest, len(FILE), FILE[:16])
    )  # fmt: skip
    assert outcome("file first") == ({"fileName": "a.bin"}, False, (digest, len(FILE), FILE[:16]))
    assert outcome("text file")[:2] == ({"fileName": "a.bin"}, True)  # type: ignore[index]
    assert "more than one file" in str(outcome("two files"))
    assert "at most 1024 bytes" in str(outcome("field too long"))
    assert "too many parameters" in str(outcome("too many fields"))
    # Acted on in order: the file's size before the fields after it.
    assert "FileTooLarge" in str(outcome("file too large, then too many fields"))
    # The parser's own verdict comes first for what it finds in the same chunk.
    assert "malformed" in str(outcome("too many fields, then malformed"))
    assert "not valid UTF-8" in str(outcome("not utf-8"))
    assert "sent twice" in str(outcome("sent twice"))
    assert "too much form data" in str(outcome("headers over the total"))
    assert "malformed" in str(outcome("truncated in the file"))


class _SlowStore(LocalBlobStore):
    """Staging takes a while: a request may be cancelled while its file is being staged."""

    def stage(self, max_bytes: int) -> BlobWriter:
        time.sleep(0.3)
        return super().stage(max_bytes)


@pytest.mark.parametrize("batch", [multipart.WRITE_BATCH_BYTES, 1000])
def test_a_request_cancelled_while_its_file_is_staged_leaves_nothing(
    tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multipart, "WRITE_BATCH_BYTES", batch)
    store = _SlowStore(tmp_path / "blobs")
    body, _ = FORMS["file last"]

    async def cancelled() -> None:
        task = asyncio.create_task(_read(store, body, [len(body) // 2]))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    time.sleep(0.5)  # whatever a thread still had to do
    assert not list(store.staging_objects())
