"""Sending a blob that is not on local disk (an object store): HEAD, Range and If-Range."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from anyio import to_thread
from starlette.responses import Response, StreamingResponse

from mediavault.domain.models import Delivered
from mediavault.storage.blobs import BlobStore


def streamed_blob(
    blobs: BlobStore, content: Delivered, headers: dict[str, str], scope: Any
) -> Response:
    size = content.size
    headers = {**headers, "accept-ranges": "bytes"}
    request_headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
    }
    span = byte_range(request_headers.get("range"), size)
    if_range = request_headers.get("if-range")
    if span is not None and if_range is not None and if_range != headers["etag"]:
        span = None  # the client's copy is of other bytes: send them all
    if span == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{size}"})
    status = 200
    start, end = 0, size
    if isinstance(span, tuple):
        start, end = span
        status = 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    headers["content-length"] = str(end - start)
    if scope.get("method") == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content.mime)
    chunks = _chunks(blobs.read_range(content.digest, start, end))
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=content.mime)


def byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """`bytes=a-b` as (start, end exclusive); None for no usable range (send everything),
    "unsatisfiable" for a range outside the blob. Several ranges are answered in full."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return "unsatisfiable"
            return max(0, size - length), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or start < 0:
        return "unsatisfiable"
    if end <= start:
        return None
    return start, min(end, size)


async def _chunks(reader: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Each blocking read runs in a worker thread; the event loop only passes chunks along.
    while True:
        chunk = await to_thread.run_sync(next, reader, None)
        if chunk is None:
            return
        yield chunk
