"""Settings -> concrete stores: the one place that picks and builds backends."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from mediavault.config import Settings
from mediavault.media.thumbnails import ThumbnailCache
from mediavault.services.events import EventRecorder
from mediavault.services.garbage import finish_interrupted_deletions
from mediavault.services.stores import Stores
from mediavault.storage.blobs import BlobStore, LocalBlobStore
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.metadata import MetadataStore
from mediavault.urls import UrlBuilder


def build_stores(settings: Settings) -> Stores:
    return Stores(
        meta=MetadataStore(create_engine(settings.resolved_database_url)),
        blobs=build_blob_store(settings),
        thumbnails=ThumbnailCache(settings.cache_root, settings.thumbnail_size),
        events=EventRecorder(settings.webhook_urls, UrlBuilder(settings.public_url_endpoint)),
        max_versions_per_file=settings.max_versions_per_file,
    )


def build_blob_store(settings: Settings) -> BlobStore:
    url = settings.resolved_blob_url
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalBlobStore(Path(url2pathname(urlsplit(url).path)))
    if scheme == "s3":
        from mediavault.storage.s3_blobs import S3BlobStore

        return S3BlobStore(
            url,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
        )
    raise ValueError(f"unsupported blob URL {url!r}: use file:///path or s3://bucket/prefix")


@dataclass(frozen=True)
class PreparedDataFolder:
    private_key: str
    key_was_generated: bool


def prepare_data_folder(settings: Settings) -> PreparedDataFolder:
    """Everything that must happen once, before any worker serves: run it in one process.

    Creates the data folder, applies migrations, removes staging objects and finishes blob
    deletions a crash interrupted, and makes sure there is a private key. With several hosts,
    run it (`mediavault migrate`) once before starting them.
    """
    settings.data.mkdir(parents=True, exist_ok=True)
    stores = build_stores(settings)
    try:
        migrate(stores.meta.engine)
        stores.blobs.clear_staging()
        finish_interrupted_deletions(stores)
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
