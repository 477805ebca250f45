"""The collaborators every use case receives, built once by mediavault.wiring."""

from __future__ import annotations

from dataclasses import dataclass

from mediavault.media.thumbnails import ThumbnailCache
from mediavault.services.events import EventRecorder
from mediavault.storage.blobs import BlobStore
from mediavault.storage.metadata import MetadataStore


@dataclass(frozen=True)
class Stores:
    meta: MetadataStore
    blobs: BlobStore
    thumbnails: ThumbnailCache
    events: EventRecorder
    max_versions_per_file: int = 100
