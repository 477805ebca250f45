"""Streaming multipart/form-data for the upload API.

The `file` part goes straight from the socket into a staging blob while it is hashed, so a
multi-GB upload never sits whole in memory or in /tmp. The part may come first or last (the
Node SDK sends it first, the Python SDK last), and may be binary or a text field.
Other fields are small and kept in memory, within three limits: the size of each field, their
number, and their total size (part headers included), so that no body can make a request hold
more than a few MiB however it is cut up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediavault.errors import FileTooLarge, InvalidRequest, RequestTimeout
from mediavault.storage.blobs import BlobStore, BlobWriter, StagedBlob
from mediavault.threads import ProcessPool

FILE_FIELD = "file"
# Disk writes and hashing run in a worker thread, one batch at a time while the next batch is
# parsed: at most two batches of an upload are in memory. Batching keeps the thread hops few.
WRITE_BATCH_BYTES = 2 * 1024 * 1024
# Worker threads of the upload path: as many as anyio's default limiter allows its own, so that
# as many uploads as before may wait in the service at once (for the writer's turn, a sync).
UPLOAD_THREADS = 40

T = TypeVar("T")
# The upload path's own threads (see in_thread).
_UPLOAD_THREADS = ProcessPool(UPLOAD_THREADS, "mv-upload")


def _submit(function: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """`function(*args)` started in an upload thread, with the caller's context variables."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(_UPLOAD_THREADS.get(), context.run, function, *args)


async def in_thread(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a worker thread, with the caller's context variables (the request
    id of its log lines), as anyio's to_thread.run_sync does. A plain executor hop costs a third
    of anyio's (its capacity limiter, cancel scope and per-thread queues: about 20 against 60
    µs of CPU a hop with 16 requests at once, measured on uvloop), and an upload makes two or
    more. A cancelled caller waits for the call to end before the cancellation goes on: its
    cleanup (removing the staged file, giving back a lease) must not run beside the call."""
    call = _submit(function, *args)
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        while not call.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([call])
        raise


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: StagedBlob | None = None
    # True when `file` came as a text field (base64 or URL) rather than a binary part.
    file_is_text: bool = False


class _Part:
    def __init__(self) -> None:
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.name = ""
        self.is_file_part = False
        self.has_filename = False
        self.data = bytearray()
        # A file part's data as received: joined once per batch, not appended byte by byte.
        self.chunks: list[bytes] = []
        self.chunk_bytes = 0


class FormReader:
    """Feeds request chunks to python-multipart and acts on its events.

    The parser's callbacks act at once while nothing waits (a part's headers, a field's data
    and end, a file part's data below a batch); what must be awaited (a batch of the file to
    write, the file's end) is recorded instead, and so is every event after it, and they are
    acted on in order once the parser has taken the chunk (`_drain`). An error raised while
    acting at once is kept and raised once the parser has taken the chunk, and the chunk's
    later events are dropped: as if every event had been recorded and acted on in order after
    the chunk, so a body the parser finds malformed is refused as malformed first."""

    def __init__(
        self,
        blobs: BlobStore,
        max_file_bytes: int,
        max_field_bytes: int,
        idle_timeout: float = 60,
        max_fields: int = 100,
        max_fields_total_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self._idle_timeout = idle_timeout
        self._blobs = blobs
        self._max_file_bytes = max_file_bytes
        self._max_field_bytes = max_field_bytes
        self._max_fields = max_fields
        self._max_fields_total_bytes = max_fields_total_bytes
        self._field_count = 0
        # Bytes held for the form besides the file: every part's headers, every field's value.
        self._held_bytes = 0
        self._form = UploadForm()
        # The file part's staging writer, made by the thread that writes its first batch (its
        # file is created there, not on the loop: a create waits on the directory and on the
        # disk's journal, and gives the GIL away); `_file_limit` is set while in the file part.
        self._writer: BlobWriter | None = None
        self._file_limit: int | None = None
        self._part = _Part()
        # Events waiting to be acted on in order (the first of them must be awaited).
        self._events: list[tuple[str, bytes]] = []
        # An error raised by an event acted on at once, raised after the parser's write.
        self._error: Exception | None = None
        # The batch being written, or the file's last batch and finish.
        self._pending_write: asyncio.Future[StagedBlob] | asyncio.Future[None] | None = None

    async def read(self, content_type: str | None, stream: AsyncIterator[bytes]) -> UploadForm:
        parser = self._parser(content_type)
        loop = asyncio.get_running_loop()
        try:
            # One deadline for the whole body, moved on after every chunk: a timeout scope per
            # chunk cost more than parsing the chunk (profiled on a 1 GiB upload).
            async with asyncio.timeout_at(loop.time() + self._idle_timeout) as deadline:
                async for chunk in stream:
                    parser.write(chunk)
                    await self._drain()
                    deadline.reschedule(loop.time() + self._idle_timeout)
            parser.finalize()
            await self._drain()
            if self._file_limit is not None:
                # The body ended inside the file part: a truncated or malformed request.
                raise MultipartParseError("the body ended before the file part did")
        except TimeoutError:
            await self._abort()
            raise RequestTimeout() from None
        except MultipartParseError:
            await self._abort()
            raise InvalidRequest(
                "Your request contains a malformed multipart/form-data body."
            ) from None
        except BaseException:
            await self._abort()
            raise
        return self._form

    def _parser(self, content_type: str | None) -> MultipartParser:
        kind, boundary = _form_boundary(content_type or "")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidRequest(
                "Your request is missing file parameter. "
                "Uploads must be sent as multipart/form-data."
            )
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]  # a TypedDict of callables

    # The parser's callbacks: act at once, or record the event (see the class's docstring).

    def _on_part_begin(self) -> None:
        if self._events or self._error is not None:
            self._record("begin", b"")
        else:
            self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_bytes("header_field", data, start, end)

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_bytes("header_value", data, start, end)

    def _header_bytes(self, event: str, data: bytes, start: int, end: int) -> None:
        """A piece of a part header's name or value (`event` names the _Part's buffer)."""
        if self._events or self._error is not None:
            self._record(event, bytes(data[start:end]))
            return
        try:
            self._hold(end - start)
        except Exception as exc:
            self._error = exc
            return
        buffer: bytearray = getattr(self._part, event)
        buffer += data[start:end]

    def _on_header_end(self) -> None:
        if self._events or self._error is not None:
            self._record("header_end", b"")
        else:
            self._header_end()

    def _on_headers_finished(self) -> None:
        if self._events or self._error is not None:
            self._record("headers", b"")
            return
        try:
            self._start_part()
        except Exception as exc:
            self._error = exc

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._events or self._error is not None:
            self._record("data", bytes(data[start:end]))
            return
        try:
            if self._part_data(bytes(data[start:end])):
                self._events.append(("flush", b""))
        except Exception as exc:
            self._error = exc

    def _on_part_end(self) -> None:
        if self._events or self._error is not None or self._part.is_file_part:
            self._record("end", b"")
            return
        try:
            self._end_field()
        except Exception as exc:
            self._error = exc

    def _record(self, kind: str, payload: bytes) -> None:
        if self._error is None:  # after an error, nothing more is acted on
            self._events.append((kind, payload))

    async def _drain(self) -> None:
        """Raise the error of an event acted on at once, or act on the recorded events in
        order."""
        error, self._error = self._error, None
        if error is not None:
            self._events.clear()
            raise error
        if not self._events:
            return
        events = self._events[:]
        self._events.clear()
        for kind, payload in events:
            if kind == "begin":
                self._part = _Part()
            elif kind == "header_field":
                self._hold(len(payload))
                self._part.header_field += payload
            elif kind == "header_value":
                self._hold(len(payload))
                self._part.header_value += payload
            elif kind == "header_end":
                self._header_end()
            elif kind == "headers":
                self._start_part()
            elif kind == "data":
                if self._part_data(payload):
                    await self._flush()
            elif kind == "flush":
                await self._flush()
            elif kind == "end":
                await self._end_part()

    def _header_end(self) -> None:
        part = self._part
        name = bytes(part.header_field).lower().decode("latin-1")
        part.headers[name] = bytes(part.header_value)
        part.header_field.clear()
        part.header_value.clear()

    def _start_part(self) -> None:
        part = self._part
        part.name, part.has_filename = _disposition(part.headers.get("content-disposition", b""))
        if part.name == FILE_FIELD:
            if self._form.file is not None or self._file_limit is not None:
                raise InvalidRequest("Your request contains more than one file parameter.")
            part.is_file_part = True
            self._form.file_is_text = not part.has_filename
            # A base64 text is a third larger than the bytes it carries.
            limit = (
                self._max_file_bytes * 4 // 3 + 1024
                if not part.has_filename
                else self._max_file_bytes
            )
            self._file_limit = limit
            return
        self._field_count += 1
        if self._field_count > self._max_fields:
            raise InvalidRequest(
                "Your request contains too many parameters. "
                f"An upload can have at most {self._max_fields} form fields."
            )

    def _part_data(self, data: bytes) -> bool:
        """Keep a part's data; True when the file's batch is full and must be flushed."""
        part = self._part
        if part.is_file_part:
            part.chunks.append(data)
            part.chunk_bytes += len(data)
            return part.chunk_bytes >= WRITE_BATCH_BYTES
        self._hold(len(data))
        part.data += data
        if len(part.data) > self._max_field_bytes:
            raise InvalidRequest(
                f"Your request contains invalid {part.name} parameter. "
                f"Form fields can be at most {self._max_field_bytes} bytes long."
            )
        return False

    def _hold(self, size: int) -> None:
        self._held_bytes += size
        if self._held_bytes > self._max_fields_total_bytes:
            raise InvalidRequest(
                "Your request contains too much form data. The form fields of an upload can be "
                f"at most {self._max_fields_total_bytes} bytes in total."
            )

    async def _flush(self) -> None:
        """Hand the batch to a thread and return; the batch before it must be written first."""
        part = self._part
        batch = b"".join(part.chunks)
        part.chunks, part.chunk_bytes = [], 0
        await self._settle()
        loop = asyncio.get_running_loop()
        self._pending_write = loop.run_in_executor(None, self._write_batch, batch)

    def _write_batch(self, batch: bytes) -> None:
        """In a worker thread: stage the file (its first batch), write the batch."""
        writer = self._writer
        if writer is None:
            assert self._file_limit is not None
            writer = self._writer = self._blobs.stage(self._file_limit)
        writer.write(batch)

    def _write_and_finish(self, batch: bytes) -> StagedBlob:
        """In a worker thread: the last batch and the finish (the file staged first, if no
        batch came before)."""
        writer = self._writer
        if writer is None:
            assert self._file_limit is not None
            writer = self._writer = self._blobs.stage(self._file_limit)
        if batch:
            writer.write(batch)
        return writer.finish()

    async def _settle(self) -> None:
        """Wait for the batch being written; its error (too large, disk full) is raised here."""
        pending = self._pending_write
        if pending is None:
            return
        try:
            # Shielded, and kept until it has ended: a cancelled request waits for it in
            # _abort (the thread may be staging the file), which then removes the file.
            await asyncio.shield(pending)
        except FileTooLarge:
            self._writer = None  # the writer removed its own staging file
            raise
        finally:
            if pending.done():
                self._pending_write = None

    async def _end_part(self) -> None:
        part = self._part
        if not part.is_file_part:
            self._end_field()
            return
        # The last batch and the finish (its fsync) in one thread hop: a small upload is a
        # single batch, and each hop is a wake-up of the loop and of a worker thread.
        batch = b"".join(part.chunks)
        part.chunks, part.chunk_bytes = [], 0
        await self._settle()
        # Kept as the write in flight until it has ended, and shielded: a cancelled request
        # still waits for it in _abort, which then removes what it staged.
        self._pending_write = last = _submit(self._write_and_finish, batch)
        try:
            staged = await asyncio.shield(last)
        except FileTooLarge:
            self._writer = None  # the writer removed its own staging file
            raise
        self._pending_write = self._writer = self._file_limit = None
        self._form.file = staged

    def _end_field(self) -> None:
        part = self._part
        try:
            value = part.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(
                f"Your request contains invalid {part.name} parameter. It is not valid UTF-8."
            ) from None
        # ImageKit's browser SDK sends publicKey twice; a field sent twice with two values
        # would leave the server to guess which one was meant.
        earlier = self._form.fields.setdefault(part.name, value)
        if earlier != value:
            raise InvalidRequest(
                f"Your request contains invalid {part.name} parameter. It was sent twice, with "
                "different values."
            )

    async def _abort(self) -> None:
        if self._pending_write is not None:
            # The write in flight must end before its staging file goes.
            pending, self._pending_write = self._pending_write, None
            with anyio.CancelScope(shield=True):
                await asyncio.wait([pending])
            if not pending.cancelled() and pending.exception() is None:
                # The file's last hop had staged it all: removed below.
                staged = pending.result()
                if staged is not None:
                    self._form.file, self._writer = staged, None
            # Otherwise its error is retrieved: the request already fails for another reason.
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._form.file is not None:
            self._blobs.discard(self._form.file)
            self._form.file = None


# The part headers and content type nearly every client sends: no quote, backslash or `;`
# inside a value, single spaces. python-multipart's parse_options_header gives exactly these
# values for them (tests/unit/test_multipart_headers.py checks it on generated headers); any
# other spelling goes to it. It costs about 8 µs a header; the match, under 1.
_PLAIN_DISPOSITION = re.compile(rb'form-data; name="([^"\\;]*)"(; filename="[^"\\;]*")?')
_PLAIN_FORM_TYPE = re.compile(r"multipart/form-data; boundary=([^\s\";\\*]+)")


def _disposition(header: bytes) -> tuple[str, bool]:
    """A part's name and whether it has a filename, from its Content-Disposition."""
    plain = _PLAIN_DISPOSITION.fullmatch(header)
    if plain is not None:
        return plain[1].decode("utf-8", "replace"), plain[2] is not None
    _, options = parse_options_header(header)
    return options.get(b"name", b"").decode("utf-8", "replace"), b"filename" in options


def _form_boundary(content_type: str) -> tuple[bytes, bytes | None]:
    """The request's media type and its boundary parameter, if any."""
    plain = _PLAIN_FORM_TYPE.fullmatch(content_type)
    if plain is not None:
        return b"multipart/form-data", plain[1].encode("latin-1")
    kind, options = parse_options_header(content_type)
    return kind, options.get(b"boundary")


_DATA_URI = re.compile(rb"^\s*data:[^,]*;base64,", re.IGNORECASE)


def decode_base64_file(blobs: BlobStore, text: StagedBlob, max_bytes: int) -> StagedBlob:
    """Turn a staged base64 text (plain or a data URI) into a staged blob of its bytes. Blocking."""
    writer = blobs.stage(max_bytes)
    try:
        with blobs.open_staged(text) as source:
            head = source.read(512)
            match = _DATA_URI.match(head)
            pending = head[match.end() :] if match else head
            while True:
                pending = b"".join(pending.split())  # base64 may be wrapped over lines
                usable = len(pending) - len(pending) % 4
                if usable:
                    writer.write(base64.b64decode(pending[:usable], validate=True))
                pending = pending[usable:]
                chunk = source.read(WRITE_BATCH_BYTES)
                if not chunk:
                    break
                pending += chunk
            if pending.strip():
                raise binascii.Error("truncated base64")
        return writer.finish()
    except (binascii.Error, ValueError):
        writer.abort()
        raise InvalidRequest(
            "Your request contains invalid file parameter. "
            "A text file parameter must be base64 encoded."
        ) from None
    except BaseException:
        writer.abort()
        raise
    finally:
        blobs.discard(text)
