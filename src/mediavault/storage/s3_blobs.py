"""Blobs in an S3-compatible object store, through obstore (streaming, bounded memory).

Uploads stream into `staging/<random>` as a multipart upload while they are hashed; publishing
copies the object to its content address on the server side and drops the staging object.
obstore's errors are translated here: nothing above this module sees them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from mediavault.errors import BlobMissing, StorageUnavailable
from mediavault.storage.blobs import (
    BlobWriter,
    StagedBlob,
    StagingObject,
    blob_key,
    staging_name,
    staging_owner,
)

# Parts of 8 MiB, four in flight: about 40 MB per upload at most, whatever its size.
PART_BYTES = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 4
READ_CHUNK = 1024 * 1024
MAX_SERVER_SIDE_COPY = 5 * 1024**3
# obstore raises its own NotFoundError or the builtin one, depending on the call.
_NOT_FOUND = (NotFoundError, FileNotFoundError)


class S3BlobStore:
    def __init__(
        self,
        url: str,
        endpoint: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        owner: int = 0,
    ) -> None:
        self._owner = owner
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"an S3 blob URL looks like s3://bucket/prefix, not {url!r}")
        config: dict[str, Any] = {"region": region}
        if endpoint:
            config["endpoint"] = endpoint
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            parts.netloc,
            prefix=parts.path.strip("/") or None,
            config=config,  # type: ignore[arg-type]  # a TypedDict of options
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
            virtual_hosted_style_request=False,
        )

    def stage(self, max_bytes: int) -> BlobWriter:
        key = f"staging/{staging_name(self._owner)}"
        sink = obstore.open_writer(
            self._store, key, buffer_size=PART_BYTES, max_concurrency=PARTS_IN_FLIGHT
        )
        return BlobWriter(key, cast(Any, _TranslatingSink(sink)), max_bytes, cast(Any, self))

    def publish(self, staged: StagedBlob, overwrite: bool) -> None:
        final = blob_key(staged.digest)
        try:
            if overwrite or self.size(staged.digest) != staged.size:
                if staged.size <= MAX_SERVER_SIDE_COPY:
                    obstore.copy(self._store, staged.location, final)
                else:
                    self._copy_by_streaming(staged, final)
            obstore.delete(self._store, staged.location)
        except BaseError as exc:
            raise StorageUnavailable(f"publishing {staged.digest} failed: {exc}") from exc

    def _copy_by_streaming(self, staged: StagedBlob, final: str) -> None:
        """S3's CopyObject stops at 5 GiB: larger blobs pass through this worker instead,
        in parts, with memory bounded as for uploads."""
        reader = obstore.open_reader(self._store, staged.location, size=staged.size)
        writer = obstore.open_writer(
            self._store, final, buffer_size=PART_BYTES, max_concurrency=PARTS_IN_FLIGHT
        )
        while chunk := bytes(reader.read(PART_BYTES)):
            writer.write(chunk)
        writer.close()

    def discard(self, staged: StagedBlob) -> None:
        try:
            obstore.delete(self._store, staged.location)
        except _NOT_FOUND:
            pass
        except BaseError as exc:
            raise StorageUnavailable(f"discarding {staged.location} failed: {exc}") from exc

    def delete(self, digest: str) -> None:
        try:
            obstore.delete(self._store, blob_key(digest))
        except _NOT_FOUND:
            pass
        except BaseError as exc:
            raise StorageUnavailable(f"deleting {digest} failed: {exc}") from exc

    def size(self, digest: str) -> int | None:
        return self._size_of(blob_key(digest))

    def open(self, digest: str) -> BinaryIO:
        size = self.size(digest)
        if size is None:
            raise BlobMissing()
        return cast(
            BinaryIO, _Reader(obstore.open_reader(self._store, blob_key(digest), size=size))
        )

    def open_staged(self, staged: StagedBlob) -> BinaryIO:
        reader = obstore.open_reader(self._store, staged.location, size=staged.size)
        return cast(BinaryIO, _Reader(reader))

    def local_path(self, digest: str) -> None:
        return None

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        key = blob_key(digest)
        position = start
        try:
            while position < end:
                step = min(READ_CHUNK, end - position)
                yield bytes(obstore.get_range(self._store, key, start=position, length=step))
                position += step
        except _NOT_FOUND:
            raise BlobMissing() from None
        except BaseError as exc:
            raise StorageUnavailable(f"reading {digest} failed: {exc}") from exc

    def digests(self) -> Iterator[tuple[str, int]]:
        for batch in obstore.list(self._store, "sha256/"):
            for meta in batch:
                yield meta["path"].rsplit("/", 1)[-1], meta["size"]

    def staging_objects(self) -> Iterator[StagingObject]:
        # Multipart uploads still in progress are not objects yet and are not listed: a
        # lifecycle rule (AbortIncompleteMultipartUpload) is what removes abandoned ones.
        for batch in obstore.list(self._store, "staging/"):
            for meta in batch:
                name = meta["path"].rsplit("/", 1)[-1]
                modified = int(meta["last_modified"].timestamp() * 1000)
                yield StagingObject(meta["path"], staging_owner(name), modified)

    def remove_staging(self, location: str) -> None:
        if not location.startswith("staging/"):
            raise ValueError(f"not a staging object of this store: {location!r}")
        self.discard(StagedBlob(location, "", 0, b""))

    def staging_count(self) -> int:
        return sum(len(batch) for batch in obstore.list(self._store, "staging/"))

    def _size_of(self, key: str) -> int | None:
        try:
            return int(obstore.head(self._store, key)["size"])
        except _NOT_FOUND:
            return None
        except BaseError as exc:
            raise StorageUnavailable(f"looking up {key} failed: {exc}") from exc


class _TranslatingSink:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write(self, data: bytes) -> object:
        try:
            return self._writer.write(data)
        except BaseError as exc:
            raise StorageUnavailable(f"upload to the object store failed: {exc}") from exc

    def close(self) -> None:
        try:
            self._writer.close()
        except BaseError as exc:
            raise StorageUnavailable(f"upload to the object store failed: {exc}") from exc

    def abort(self) -> None:
        # Leaving the writer's context with an error aborts the multipart upload, where
        # close() would complete it and store the partial object.
        with contextlib.suppress(BaseError):
            self._writer.__exit__(RuntimeError, RuntimeError("upload aborted"), None)


class _Reader(io.RawIOBase):
    """obstore's seekable reader as a standard binary file (context manager, readinto)."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = bytes(self._source.read(len(buffer)))
        except BaseError as exc:
            raise StorageUnavailable(f"reading from the object store failed: {exc}") from exc
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._source.seek(offset, whence))

    def tell(self) -> int:
        return int(self._source.tell())

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()
