"""Compare two versions of a file: their metadata, and their pictures when both are images."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mediavault.domain.models import FileVersion
from mediavault.errors import BlobMissing, InvalidRequest, NotComparable, TransformationLimit
from mediavault.media.compare import ImageDifference, difference, heatmap_png
from mediavault.media.transform.inputs import Limits, Source
from mediavault.services.stores import Stores
from mediavault.services.versions import get_version


@dataclass(frozen=True)
class Comparison:
    before: FileVersion
    after: FileVersion
    image: ImageDifference | None  # None unless both are pictures this server decodes

    @property
    def same_content(self) -> bool:
        return self.before.version.content.digest == self.after.version.content.digest


def compare_versions(stores: Stores, file_id: str, from_id: str, to_id: str) -> Comparison:
    """Blocking (decodes both pictures): run it in a worker thread."""
    before, after = _pair(stores, file_id, from_id, to_id)
    image = None
    if _both_images(before, after):
        with _size_limit():
            image = difference(_source(stores, before), _source(stores, after), _limits(stores))
    return Comparison(before, after, image)


def heatmap(stores: Stores, file_id: str, from_id: str, to_id: str) -> bytes:
    """The difference image as PNG; NotComparable (400) unless both are pictures."""
    before, after = _pair(stores, file_id, from_id, to_id)
    png = None
    if _both_images(before, after):
        with _size_limit():
            png = heatmap_png(_source(stores, before), _source(stores, after), _limits(stores))
    if png is None:
        raise NotComparable()
    return png


def _pair(
    stores: Stores, file_id: str, from_id: str, to_id: str
) -> tuple[FileVersion, FileVersion]:
    return get_version(stores, file_id, from_id), get_version(stores, file_id, to_id)


def _both_images(before: FileVersion, after: FileVersion) -> bool:
    return before.version.content.file_type == after.version.content.file_type == "image"


def _limits(stores: Stores) -> Limits:
    return stores.renditions.limits


@contextmanager
def _size_limit() -> Iterator[None]:
    """The transformation engine's pixel limit, reported in this route's words."""
    try:
        yield
    except TransformationLimit as exc:
        raise InvalidRequest(f"An image is too large to compare: {exc.detail}.") from None


def _source(stores: Stores, item: FileVersion) -> Source:
    digest = item.version.content.digest
    local = stores.blobs.local_path(digest)
    if local is not None and not local.exists():
        raise BlobMissing(f"blob {digest} of version {item.version.id} is missing")
    return local if local is not None else (lambda: stores.blobs.open(digest))
