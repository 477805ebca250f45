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
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio import to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediavault.errors import FileTooLarge, InvalidRequest, RequestTimeout
from mediavault.storage.blobs import BlobStore, BlobWriter, StagedBlob

FILE_FIELD = "file"
# Disk writes and hashing run in a worker thread, one batch at a time while the next batch is
# parsed: at most two batches of an upload are in memory. Batching keeps the thread hops few.
WRITE_BATCH_BYTES = 2 * 1024 * 1024


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
    """Feeds request chunks to python-multipart and acts on its events between chunks."""

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
        self._writer: BlobWriter | None = None
        self._part = _Part()
        self._events: list[tuple[str, bytes]] = []
        self._pending_write: asyncio.Future[None] | None = None

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
            if self._writer is not None:
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
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidRequest(
                "Your request is missing file parameter. "
                "Uploads must be sent as multipart/form-data."
            )
        events = self._events
        callbacks = {
            "on_part_begin": lambda: events.append(("begin", b"")),
            "on_header_field": lambda d, s, e: events.append(("header_field", bytes(d[s:e]))),
            "on_header_value": lambda d, s, e: events.append(("header_value", bytes(d[s:e]))),
            "on_header_end": lambda: events.append(("header_end", b"")),
            "on_headers_finished": lambda: events.append(("headers", b"")),
            "on_part_data": lambda d, s, e: events.append(("data", bytes(d[s:e]))),
            "on_part_end": lambda: events.append(("end", b"")),
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]  # a TypedDict of callables

    async def _drain(self) -> None:
        """Act on the parser's events in order; the callbacks only record them."""
        events = self._events[:]
        self._events.clear()
        for kind, payload in events:
            part = self._part
            if kind == "begin":
                self._part = _Part()
            elif kind == "header_field":
                self._hold(len(payload))
                part.header_field += payload
            elif kind == "header_value":
                self._hold(len(payload))
                part.header_value += payload
            elif kind == "header_end":
                name = bytes(part.header_field).lower().decode("latin-1")
                part.headers[name] = bytes(part.header_value)
                part.header_field.clear()
                part.header_value.clear()
            elif kind == "headers":
                await self._start_part()
            elif kind == "data":
                await self._part_data(payload)
            elif kind == "end":
                await self._end_part()

    async def _start_part(self) -> None:
        part = self._part
        _, options = parse_options_header(part.headers.get("content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        part.has_filename = b"filename" in options
        if part.name == FILE_FIELD:
            if self._form.file is not None or self._writer is not None:
                raise InvalidRequest("Your request contains more than one file parameter.")
            part.is_file_part = True
            self._form.file_is_text = not part.has_filename
            # A base64 text is a third larger than the bytes it carries.
            limit = (
                self._max_file_bytes * 4 // 3 + 1024
                if not part.has_filename
                else self._max_file_bytes
            )
            self._writer = self._blobs.stage(limit)
            return
        self._field_count += 1
        if self._field_count > self._max_fields:
            raise InvalidRequest(
                "Your request contains too many parameters. "
                f"An upload can have at most {self._max_fields} form fields."
            )

    async def _part_data(self, data: bytes) -> None:
        part = self._part
        if part.is_file_part:
            part.chunks.append(data)
            part.chunk_bytes += len(data)
            if part.chunk_bytes >= WRITE_BATCH_BYTES:
                await self._flush()
            return
        self._hold(len(data))
        part.data += data
        if len(part.data) > self._max_field_bytes:
            raise InvalidRequest(
                f"Your request contains invalid {part.name} parameter. "
                f"Form fields can be at most {self._max_field_bytes} bytes long."
            )

    def _hold(self, size: int) -> None:
        self._held_bytes += size
        if self._held_bytes > self._max_fields_total_bytes:
            raise InvalidRequest(
                "Your request contains too much form data. The form fields of an upload can be "
                f"at most {self._max_fields_total_bytes} bytes in total."
            )

    async def _flush(self) -> None:
        """Hand the batch to a thread and return; the batch before it must be written first."""
        assert self._writer is not None
        part = self._part
        batch = b"".join(part.chunks)
        part.chunks, part.chunk_bytes = [], 0
        await self._settle()
        loop = asyncio.get_running_loop()
        self._pending_write = loop.run_in_executor(None, self._writer.write, batch)

    async def _settle(self) -> None:
        """Wait for the batch being written; its error (too large, disk full) is raised here."""
        pending, self._pending_write = self._pending_write, None
        if pending is None:
            return
        try:
            await pending
        except FileTooLarge:
            self._writer = None  # the writer removed its own staging file
            raise

    async def _end_part(self) -> None:
        part = self._part
        if part.is_file_part:
            # The last batch and the finish (its fsync) in one thread hop: a small upload is a
            # single batch, and each hop is a wake-up of the loop and of a worker thread.
            batch = b"".join(part.chunks)
            part.chunks, part.chunk_bytes = [], 0
            await self._settle()
            assert self._writer is not None
            try:
                self._form.file = await to_thread.run_sync(_write_and_finish, self._writer, batch)
            except FileTooLarge:
                self._writer = None  # the writer removed its own staging file
                raise
            self._writer = None
            return
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
            if not pending.cancelled():
                pending.exception()  # retrieved: the request already fails for another reason
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._form.file is not None:
            self._blobs.discard(self._form.file)
            self._form.file = None


def _write_and_finish(writer: BlobWriter, batch: bytes) -> StagedBlob:
    if batch:
        writer.write(batch)
    return writer.finish()


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
