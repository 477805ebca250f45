"""Delivery: which version a URL path names, whether its bytes are there, its renditions."""

from __future__ import annotations

from mediavault.domain.models import Delivered, FileVersion
from mediavault.errors import BlobMissing, NotFound
from mediavault.media.transform import Chain, Rendition
from mediavault.media.transform.inputs import Source
from mediavault.services.stores import Stores

NO_FILE = "The requested file does not exist."
NO_VERSION = "The requested file version does not exist."


def resolve(stores: Stores, file_path: str, token: str | None, signed: bool = False) -> Delivered:
    """The current version at its plain path; any version by its `ik-obj-version` token.

    A token keeps naming its version after the version becomes current (the bytes are the
    same), and stops working when the version is deleted or its publish state changes.
    Unpublished versions are delivered only to a URL signed with the private key (`signed`):
    the library's owner, an import moving it elsewhere, never the public.
    """
    with stores.meta.lookups() as lookups:
        found = lookups.delivered(file_path, token)  # one statement, no transaction
    if found is False:
        raise NotFound(NO_FILE)
    if found is True or (not found.is_published and not signed):
        raise NotFound(NO_VERSION)
    return found


def resolve_record(stores: Stores, file_path: str, token: str | None) -> FileVersion:
    """What `resolve` names with the private key's rights (unpublished versions too), as the
    whole record: file metadata by URL reads all of it."""
    with stores.meta.lookups() as lookups:
        found = lookups.at_path(file_path, token)
    if found is None:
        raise NotFound(NO_FILE)
    if not isinstance(found, FileVersion):
        raise NotFound(NO_VERSION)
    return found


def ensure_stored(stores: Stores, item: Delivered) -> None:
    """Raise BlobMissing if the version's bytes are gone, StorageUnavailable if the store is
    unreachable: a server fault (500/503), never the client's."""
    if stores.blobs.size(item.digest) is None:
        raise missing_blob(item)


def missing_blob(item: Delivered) -> BlobMissing:
    # The detail goes to the log only; the client gets BlobMissing's fixed message.
    return BlobMissing(
        f"the blob {item.digest} of version {item.version_id} of file {item.file_id} is missing"
    )


def cached_rendition(
    stores: Stores, item: Delivered, chain: Chain, accept: str | None
) -> Rendition | None:
    """The rendition if the cache holds it (no decoding, a few stat calls); else None."""
    return stores.renditions.cached(
        chain, item.digest, accept, is_image=item.file_type == "image", video=is_video(item)
    )


def render(stores: Stores, item: Delivered, chain: Chain, accept: str | None) -> Rendition:
    """The version's rendition of `chain` (from the cache or computed now). Blocking: run it
    in a worker thread. BadTransformation (400) for what cannot be applied; a missing blob is
    the same server fault (500) as for the bytes themselves."""
    digest = item.digest
    local = stores.blobs.local_path(digest)
    if local is not None and not local.exists():
        raise missing_blob(item)  # else the engine would take it for an undecodable image
    source: Source = local if local is not None else (lambda: stores.blobs.open(digest))
    try:
        return stores.renditions.render(
            chain,
            source,
            digest,
            accept,
            is_image=item.file_type == "image",
            video=is_video(item),
        )
    except (BlobMissing, FileNotFoundError):
        raise missing_blob(item) from None  # the same log detail as for the bytes themselves


def is_video(item: Delivered) -> bool:
    """A video whose stream was read at upload: its thumbnail is its first frame."""
    return item.mime.startswith("video/") and item.video_codec is not None
