"""Delivery: which version a URL path names, whether its bytes are there, its renditions."""

from __future__ import annotations

from mediavault.domain.models import FileVersion
from mediavault.errors import BlobMissing, NotFound
from mediavault.media.transform import Chain, Rendition
from mediavault.media.transform.inputs import Source
from mediavault.services.stores import Stores


def resolve(stores: Stores, file_path: str, token: str | None, signed: bool = False) -> FileVersion:
    """The current version at its plain path; any version by its `ik-obj-version` token.

    A token keeps naming its version after the version becomes current (the bytes are the
    same), and stops working when the version is deleted or its publish state changes.
    Unpublished versions are delivered only to a URL signed with the private key (`signed`):
    the library's owner, an import moving it elsewhere, never the public.
    """
    with stores.meta.lookups() as lookups:
        found = lookups.at_path(file_path, token)  # one statement, no transaction
    if found is None:
        raise NotFound("The requested file does not exist.")
    if not isinstance(found, FileVersion):
        raise NotFound("The requested file version does not exist.")
    if not found.version.metadata.is_published and not signed:
        raise NotFound("The requested file version does not exist.")
    return found


def ensure_stored(stores: Stores, item: FileVersion) -> None:
    """Raise BlobMissing if the version's bytes are gone, StorageUnavailable if the store is
    unreachable: a server fault (500/503), never the client's."""
    if stores.blobs.size(item.version.content.digest) is None:
        raise missing_blob(item)


def missing_blob(item: FileVersion) -> BlobMissing:
    # The detail goes to the log only; the client gets BlobMissing's fixed message.
    version = item.version
    return BlobMissing(
        f"the blob {version.content.digest} of version {version.id} "
        f"of file {item.file.id} is missing"
    )


def cached_rendition(
    stores: Stores, item: FileVersion, chain: Chain, accept: str | None
) -> Rendition | None:
    """The rendition if the cache holds it (no decoding, a few stat calls); else None."""
    content = item.version.content
    return stores.renditions.cached(
        chain, content.digest, accept, is_image=content.file_type == "image", video=is_video(item)
    )


def render(stores: Stores, item: FileVersion, chain: Chain, accept: str | None) -> Rendition:
    """The version's rendition of `chain` (from the cache or computed now). Blocking: run it
    in a worker thread. BadTransformation (400) for what cannot be applied; a missing blob is
    the same server fault (500) as for the bytes themselves."""
    content = item.version.content
    digest = content.digest
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
            is_image=content.file_type == "image",
            video=is_video(item),
        )
    except (BlobMissing, FileNotFoundError):
        raise missing_blob(item) from None  # the same log detail as for the bytes themselves


def is_video(item: FileVersion) -> bool:
    """A video whose stream was read at upload: its thumbnail is its first frame."""
    content = item.version.content
    return content.mime.startswith("video/") and content.video_codec is not None
