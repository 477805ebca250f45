"""Settings -> concrete stores: the one place that picks and builds backends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mediavault.config import Settings
from mediavault.media.thumbnails import ThumbnailCache
from mediavault.services.events import EventRecorder
from mediavault.services.stores import Stores
from mediavault.storage.blobs import LocalBlobStore
from mediavault.storage.database import create_sqlite_engine, migrate
from mediavault.storage.metadata import MetadataStore
from mediavault.urls import UrlBuilder


def build_stores(settings: Settings) -> Stores:
    engine = create_sqlite_engine(settings.database_path)
    return Stores(
        meta=MetadataStore(engine),
        blobs=LocalBlobStore(settings.blob_root),
        thumbnails=ThumbnailCache(settings.cache_root, settings.thumbnail_size),
        events=EventRecorder(settings.webhook_urls, UrlBuilder(settings.public_url_endpoint)),
        max_versions_per_file=settings.max_versions_per_file,
    )


@dataclass(frozen=True)
class PreparedDataFolder:
    private_key: str
    key_was_generated: bool


def prepare_data_folder(settings: Settings) -> PreparedDataFolder:
    """Everything that must happen once, before any worker serves: run it in one process.

    Creates the data folder, applies migrations, finishes blob deletions a crash interrupted,
    and makes sure there is a private key.
    """
    settings.data.mkdir(parents=True, exist_ok=True)
    stores = build_stores(settings)
    try:
        migrate(stores.meta.engine)
        with stores.meta.read() as tx:
            stores.blobs.recover(tx.blob_is_recorded)
    finally:
        stores.meta.dispose()
    if settings.private_key:
        return PreparedDataFolder(settings.private_key, key_was_generated=False)
    path = settings.private_key_path
    if path.exists():
        return PreparedDataFolder(path.read_text().strip(), key_was_generated=False)
    key = "private_" + secrets.token_urlsafe(24)
    temp = path.with_suffix(".tmp")
    temp.write_text(key + "\n")
    temp.chmod(0o600)
    temp.replace(path)
    return PreparedDataFolder(key, key_was_generated=True)


def read_private_key(settings: Settings) -> str:
    if settings.private_key:
        return settings.private_key
    return settings.private_key_path.read_text().strip()
