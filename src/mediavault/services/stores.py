"""The collaborators every use case receives, built once by mediavault.wiring."""

from __future__ import annotations

from dataclasses import dataclass

from mediavault.media.transform import TransformEngine
from mediavault.services.events import EventRecorder
from mediavault.storage.blobs import BlobStore
from mediavault.storage.liveness import Liveness
from mediavault.storage.metadata import MetadataStore


@dataclass(frozen=True)
class Stores:
    meta: MetadataStore
    blobs: BlobStore
    # The transformation engine (`tr`) and its rendition cache, thumbnails included.
    renditions: TransformEngine
    events: EventRecorder
    # Which processes sharing the library are alive; this process's owner number is in it.
    liveness: Liveness
    max_versions_per_file: int = 100
    # Staging objects and blob leases older than this are abandoned whoever owns them.
    staging_grace_ms: int = 3_600_000
    # How long a deleted file stays in the trash; 0: deletion is immediate (no trash).
    trash_ms: int = 0

    def close(self) -> None:
        self.meta.dispose()
        self.liveness.close()
