"""Settings -> concrete stores: the one place that picks and builds backends."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from mediavault.config import Settings
from mediavault.media.transform import TransformEngine
from mediavault.services.events import EventRecorder
from mediavault.services.garbage import collect_abandoned
from mediavault.services.stores import Stores
from mediavault.storage.blobs import BlobStore, LocalBlobStore, fsync_dir, make_durable_dirs
from mediavault.storage.database import create_engine, migrate
from mediavault.storage.liveness import NO_OWNER, liveness_for
from mediavault.storage.metadata import MetadataStore
from mediavault.urls import UrlBuilder


def build_stores(settings: Settings) -> Stores:
    """The stores of one process; it registers as a live owner until `Stores.close()`."""
    engine = create_engine(settings.resolved_database_url)
    liveness = liveness_for(engine)
    return Stores(
        meta=MetadataStore(engine),
        blobs=build_blob_store(settings, owner=liveness.owner),
        renditions=TransformEngine.from_settings(settings),
        events=EventRecorder(settings.webhook_urls, UrlBuilder(settings.public_url_endpoint)),
        liveness=liveness,
        max_versions_per_file=settings.max_versions_per_file,
        staging_grace_ms=settings.staging_grace_seconds * 1000,
        trash_ms=round(settings.trash_days * 86_400_000),
    )


def build_blob_store(settings: Settings, owner: int = NO_OWNER) -> BlobStore:
    url = settings.resolved_blob_url
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalBlobStore(Path(url2pathname(urlsplit(url).path)), owner=owner)
    if scheme == "s3":
        from mediavault.storage.s3_blobs import S3BlobStore

        return S3BlobStore(
            url,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            owner=owner,
        )
    raise ValueError(f"unsupported blob URL {url!r}: use file:///path or s3://bucket/prefix")


@dataclass(frozen=True)
class PreparedDataFolder:
    private_key: str
    key_was_generated: bool
    public_key: str
    public_key_was_generated: bool


def prepare_data_folder(settings: Settings) -> PreparedDataFolder:
    """Everything that must happen once, before any worker serves: run it in one process.

    Creates the data folder, applies migrations, removes what provably abandoned work left
    (never what another live process is doing: see mediavault.services.garbage), and makes
    sure there is a private key. Safe to run while servers are up.
    """
    _create_durably(settings.data)
    engine = create_engine(settings.resolved_database_url)
    try:
        migrate(engine)  # before anything else reads the tables it may create
    finally:
        engine.dispose()
    # The thumbnail cache of releases before the transformation engine (now cache/renditions).
    shutil.rmtree(settings.cache_root / "thumbnails", ignore_errors=True)
    stores = build_stores(settings)
    try:
        collect_abandoned(stores)
    finally:
        stores.close()
    private_key, private_is_new = _key(settings.private_key, settings.private_key_path, "private_")
    public_key, public_is_new = _key(settings.public_key, settings.public_key_path, "public_")
    return PreparedDataFolder(private_key, private_is_new, public_key, public_is_new)


def _key(configured: str | None, path: Path, prefix: str) -> tuple[str, bool]:
    """The configured key, the stored one, or a new one stored now; and whether it is new."""
    if configured:
        return configured, False
    if path.exists():
        return path.read_text().strip(), False
    return _create_key(path, prefix), True


def _create_durably(folder: Path) -> None:
    """The data folder and any missing parents, each entry fsynced into its parent."""
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if existing != folder:
        make_durable_dirs(folder, existing)


def _create_key(path: Path, prefix: str) -> str:
    """A new key in `path`, readable by its owner only from the moment the file exists (the
    public key too: it is not a secret, but nobody else needs to read it)."""
    key = prefix + secrets.token_urlsafe(24)
    # A fresh name each time, so that a temp file left by a crash never blocks the next start.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # Mode 0600 at creation, not a chmod after writing, which leaves a moment when the umask's
    # wider mode lets others open the file. O_EXCL: never write through a planted file or link.
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        fsync_dir(path.parent)  # the key is shown once: its file must outlive a power cut
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return key


def read_private_key(settings: Settings) -> str:
    if settings.private_key:
        return settings.private_key
    return settings.private_key_path.read_text().strip()


def read_public_key(settings: Settings) -> str:
    if settings.public_key:
        return settings.public_key
    return settings.public_key_path.read_text().strip()
