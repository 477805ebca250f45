"""Moving in from ImageKit: a whole library read through its public API, every version kept.

The source is anything that speaks ImageKit's API (ImageKit itself, another mediavault): its
custom metadata fields, its folders (walked from `path` with `GET /v1/files?type=folder`), its
files and each file's versions, whose bytes are read from the delivery URL with
`ik-obj-version`, signed with the private key when the version is private or unpublished.

Every file keeps its `fileId`, each version its id, its number ("Version N"), its times, tags,
AI tags, custom metadata and coordinates, privacy and publication. A version's bytes go the way
an upload's do (staged while hashed, leased, published, then referenced by the version's
transaction), are checked against the source's size and read back once published, and each
version is its own transaction: a killed import leaves whole versions only, the last imported
one current, and the next run imports what is missing, then puts the source's current version
and times in place. A fileId, version id or path that the target already uses for something
else is a conflict: reported, never overwritten.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mediavault.client.api import ApiClient, ApiError, JsonObject
from mediavault.domain import names
from mediavault.domain.ids import new_lease_id, new_version_token
from mediavault.domain.models import (
    ContentInfo,
    CustomMetadataField,
    File,
    Folder,
    Version,
    VersionMetadata,
)
from mediavault.services.clock import now_ms
from mediavault.services.garbage import finish_deletions
from mediavault.services.stores import Stores
from mediavault.storage.blob_queries import BlobLease

log = logging.getLogger("mediavault.imagekit_import")
_VERSION_NAME = re.compile(r"^Version (\d+)$")


@dataclass
class ImportReport:
    fields_created: int = 0
    folders_created: int = 0
    files_imported: int = 0  # files that gained a version or had their state put in place
    files_unchanged: int = 0
    versions_imported: int = 0
    versions_present: int = 0
    bytes_imported: int = 0
    skipped: list[str] = field(default_factory=list)  # "<what>: <why>"; conflicts too
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def complete(self) -> bool:
        return not self.skipped

    @property
    def nothing_to_do(self) -> bool:
        changed = self.fields_created + self.folders_created + self.files_imported
        return self.complete and changed == 0

    def skip(self, what: str, why: str) -> None:
        with self._lock:
            self.skipped.append(f"{what}: {why}")

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class Progress:
    """What the importer tells as it goes (a Null object: the CLI draws a bar from it)."""

    def planned(self, files: int, versions: int, size: int) -> None: ...
    def advance(self, files: int = 0, versions: int = 0, size: int = 0) -> None: ...


@dataclass(frozen=True)
class _SourceFile:
    current: JsonObject
    versions: list[JsonObject]  # in version order (Version 1 first)


class Conflict(Exception):
    """A fileId, version id or path of the source used by something else in the target."""


def import_from_imagekit(
    stores: Stores,
    source: ApiClient,
    path: str = "/",
    concurrency: int = 4,
    progress: Progress | None = None,
) -> ImportReport:
    progress = progress or Progress()
    report = ImportReport()
    root = names.normalize_folder(path)
    _import_fields(stores, source, report)
    folders = list(_walk_folders(source, root))
    _import_folders(stores, root, folders, report)
    folder_paths = [root, *(f.folder_path for f in folders)]
    current_items = [item for p in folder_paths for item in source.list_all("file", p)]
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        plans = list(pool.map(lambda item: _plan(source, item, report), current_items))
        files = [plan for plan in plans if plan is not None]
        progress.planned(
            len(files),
            sum(len(f.versions) for f in files),
            sum(int(v.get("size") or 0) for f in files for v in f.versions),
        )
        list(pool.map(lambda f: _import_file(stores, source, f, report, progress), files))
    return report


# -- fields and folders ---------------------------------------------------------------------


def _import_fields(stores: Stores, source: ApiClient, report: ImportReport) -> None:
    """Custom metadata fields first: the versions' values name them."""
    for item in source.custom_metadata_fields():
        wanted = CustomMetadataField(item["id"], item["name"], item["label"], item["schema"])
        with stores.meta.write() as tx:
            existing = tx.get_field(wanted.id)
            if existing is not None:
                if existing.name != wanted.name:
                    report.skip(
                        f"custom metadata field {wanted.name}",
                        f"its id {wanted.id} is the target's field {existing.name!r}",
                    )
                continue
            if tx.field_name_taken(wanted.name):
                report.skip(
                    f"custom metadata field {wanted.name}",
                    "the target has a field of that name with another id",
                )
                continue
            tx.insert_field_as_is(wanted, now_ms())
        report.add(fields_created=1)


def _walk_folders(source: ApiClient, root: str) -> Iterator[Folder]:
    """Every folder below `root` (empty ones too), parents before their children."""
    pending = [root]
    while pending:
        parent = pending.pop(0)
        for item in source.list_all("folder", parent):
            folder_path = names.normalize_folder(item["folderPath"])
            yield Folder(
                item["folderId"],
                folder_path,
                item["name"],
                _ms(item["createdAt"]),
                _ms(item["updatedAt"]),
            )
            pending.append(folder_path)


def _import_folders(stores: Stores, root: str, folders: list[Folder], report: ImportReport) -> None:
    with stores.meta.write() as tx:
        if root != "/":
            tx.ensure_folders(root, now_ms())
        created = sum(tx.insert_folder_as_is(folder) for folder in folders)
    report.add(folders_created=created)


# -- files ----------------------------------------------------------------------------------


def _plan(source: ApiClient, current: JsonObject, report: ImportReport) -> _SourceFile | None:
    try:
        listed = source.versions(current["fileId"])
        return _SourceFile(current, sorted(listed, key=_number))
    except ApiError as exc:
        report.skip(current["filePath"], f"its versions could not be listed ({exc})")
    except Conflict as exc:
        report.skip(current["filePath"], str(exc))
    return None


def _import_file(
    stores: Stores,
    source: ApiClient,
    plan: _SourceFile,
    report: ImportReport,
    progress: Progress,
) -> None:
    current = plan.current
    file_path = current["filePath"]
    try:
        changed = False
        for item in plan.versions:
            if _import_version(stores, source, plan, item, report, progress):
                changed = True
        if _put_in_place(stores, plan):
            changed = True
        report.add(**({"files_imported": 1} if changed else {"files_unchanged": 1}))
    except Conflict as exc:
        report.skip(file_path, str(exc))
    except ApiError as exc:
        report.skip(file_path, f"the source refused ({exc})")
    except _Skipped as exc:
        report.skip(file_path, str(exc))
    except Exception as exc:  # one file's failure must not stop the others
        log.exception("importing %s failed", file_path)
        report.skip(file_path, f"{type(exc).__name__}: {exc}")
    progress.advance(files=1)


class _Skipped(Exception):
    """This version (and so its file) cannot be imported: the bytes did not check out."""


def _import_version(
    stores: Stores,
    source: ApiClient,
    plan: _SourceFile,
    item: JsonObject,
    report: ImportReport,
    progress: Progress,
) -> bool:
    """Import one version unless it is there already; True when it was imported."""
    file_id, version_id = plan.current["fileId"], item["versionInfo"]["id"]
    size = int(item.get("size") or 0)
    with stores.meta.read() as tx:
        _check_file(tx, plan.current)
        holder = tx.file_of_version(version_id)
        if holder is not None and holder != file_id:
            raise Conflict(f"version id {version_id} is a version of the target's file {holder}")
        present = tx.get_version(file_id, version_id) if holder else None
    if present is not None:
        if present.content.size != size or present.number != _number(item):
            raise Conflict(
                f"version {version_id} is in the target with other bytes or another number"
            )
        report.add(versions_present=1)
        progress.advance(versions=1, size=size)
        return False
    metadata = item_metadata(item)
    signed = metadata.is_private_file or not metadata.is_published
    writer = stores.blobs.stage(max(size, 1) * 2 + (1 << 20))
    try:
        with source.stream(source.delivery_url(item, signed=signed)) as chunks:
            for chunk in chunks:
                writer.write(chunk)
                progress.advance(size=len(chunk))
        staged = writer.finish()
    except BaseException:
        writer.abort()
        raise
    try:
        if staged.size != size:
            raise _Skipped(
                f"{item['versionInfo']['name']} ({version_id}): the source sent {staged.size} "
                f"bytes where its metadata says {size}"
            )
        content = ContentInfo(
            staged.digest,
            staged.size,
            item.get("mime") or "application/octet-stream",
            item.get("fileType") or "non-image",
            item.get("width"),
            item.get("height"),
            item.get("hasAlpha"),
            *_probed_facts(item),
        )
        lease = BlobLease(
            new_lease_id(),
            content.digest,
            stores.liveness.owner,
            now_ms() + stores.staging_grace_ms,
        )
        try:
            with stores.meta.write() as tx:
                rewrite = tx.lease_blob(lease, content.size, now_ms())
            stores.blobs.publish(staged, overwrite=rewrite)
            _verify_stored(stores, content)
            _insert_version(stores, plan, item, content, metadata, lease.id)
        except BaseException:
            _give_back(stores, lease)
            raise
    finally:
        stores.blobs.discard(staged)
    report.add(versions_imported=1, bytes_imported=content.size)
    progress.advance(versions=1)
    return True


def _verify_stored(stores: Stores, content: ContentInfo) -> None:
    """Read the published blob back: the store holds exactly the bytes that were hashed."""
    digest = hashlib.sha256()
    with stores.blobs.open(content.digest) as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != content.digest:
        raise _Skipped(f"the stored blob {content.digest} read back with another sha256")


def _insert_version(
    stores: Stores,
    plan: _SourceFile,
    item: JsonObject,
    content: ContentInfo,
    metadata: VersionMetadata,
    lease_id: str,
) -> None:
    """The version's transaction: it becomes current for now (a killed import leaves a file
    with a current version); _put_in_place puts the source's current one back at the end."""
    current = plan.current
    file_id, number = current["fileId"], _number(item)
    with stores.meta.write() as tx:
        now = now_ms()
        file = tx.get_file(file_id, lock=True)
        if file is None:
            _check_file(tx, current)
            folder_path = names.normalize_folder(current["filePath"].rsplit("/", 1)[0] or "/")
            tx.ensure_folders(folder_path, now)
            tx.insert_file(
                File(
                    file_id,
                    current["name"],
                    folder_path,
                    number,
                    _ms(current["createdAt"]),
                    _ms(current["updatedAt"]),
                )
            )
        else:
            tx.demote_current_version(file_id, now)
            tx.update_file(file_id, last_version_number=max(file.last_version_number, number))
        claimed = tx.claim_blob(content.digest, content.size, now, lease_id)
        if not claimed and stores.blobs.size(content.digest) != content.size:
            raise _Skipped(f"the bytes of {item['versionInfo']['id']} went missing; retry")
        tx.insert_version(
            Version(
                id=item["versionInfo"]["id"],
                file_id=file_id,
                number=number,
                content=content,
                metadata=metadata,
                token=new_version_token(),
                is_current=True,
                created_at=_ms(item["createdAt"]),
                updated_at=_ms(item["updatedAt"]),
            )
        )


def _put_in_place(stores: Stores, plan: _SourceFile) -> bool:
    """The source's current version current, its times on the file, each version's times:
    True when anything had to change (a first import, or one resumed)."""
    current = plan.current
    file_id, current_id = current["fileId"], current["versionInfo"]["id"]
    created, updated = _ms(current["createdAt"]), _ms(current["updatedAt"])
    times = {
        v["versionInfo"]["id"]: (_ms(v["createdAt"]), _ms(v["updatedAt"])) for v in plan.versions
    }
    # The current version's own row carries the file's times (the API shows the file's).
    times[current_id] = (created, updated)
    last = max((_number(v) for v in plan.versions), default=1)
    with stores.meta.write() as tx:
        file = tx.get_file(file_id, lock=True)
        if file is None:
            return False
        changed = False
        now_current = tx.get_current_version(file_id)
        if now_current is None or now_current.id != current_id:
            tx.demote_current_version(file_id, now_ms())
            tx.promote_version(current_id, updated)
            changed = True
        for version in tx.list_versions(file_id):
            wanted = times.get(version.id)
            if wanted is not None and (version.created_at, version.updated_at) != wanted:
                tx.set_version_times(version.id, *wanted)
                changed = True
        if (file.created_at, file.updated_at) != (created, updated) or (
            file.last_version_number < last
        ):
            tx.update_file(
                file_id,
                created_at=created,
                updated_at=updated,
                last_version_number=max(last, file.last_version_number),
            )
            changed = True
    return changed


def _check_file(tx: Any, current: JsonObject) -> None:
    """The source file's id and path must be this file's in the target, or free."""
    file_id, file_path = current["fileId"], current["filePath"]
    by_id = tx.get_file(file_id)
    if by_id is not None and by_id.file_path != file_path:
        raise Conflict(f"fileId {file_id} is the target's file at {by_id.file_path}")
    by_path = tx.get_file_by_path(file_path)
    if by_path is not None and by_path.id != file_id:
        raise Conflict(f"the path is taken in the target by another file ({by_path.id})")


def _give_back(stores: Stores, lease: BlobLease) -> None:
    try:
        with stores.meta.write() as tx:
            tx.release_lease(lease.id)
        finish_deletions(stores, [lease.digest])
    except Exception:
        log.warning("could not release the blob lease of a failed import", exc_info=True)


# -- the source's JSON ----------------------------------------------------------------------


def item_metadata(item: JsonObject) -> VersionMetadata:
    return VersionMetadata(
        tags=item.get("tags"),
        ai_tags=item.get("AITags"),
        custom_metadata=item.get("customMetadata") or {},
        custom_coordinates=item.get("customCoordinates"),
        description=item.get("description"),
        is_private_file=bool(item.get("isPrivateFile")),
        is_published=item.get("isPublished", True) is not False,
    )


def _number(item: JsonObject) -> int:
    found = _VERSION_NAME.match(str(item.get("versionInfo", {}).get("name", "")))
    if found is None:
        raise Conflict(f"the version name {item.get('versionInfo')} is not 'Version N'")
    return int(found.group(1))


def _ms(text: str) -> int:
    """ISO 8601 ("2026-11-30T08:01:02.345Z") to epoch milliseconds."""
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _probed_facts(item: dict[str, Any]) -> tuple[Any, ...]:
    """The source's embeddedMetadata and video facts, in ContentInfo's order after hasAlpha."""
    embedded = item.get("embeddedMetadata")
    facts = [item.get(key) for key in ("duration", "videoCodec", "audioCodec", "bitRate")]
    numbers = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in facts]
    texts = [v[:32] if isinstance(v, str) and v else None for v in facts]
    embedded = embedded if isinstance(embedded, dict) else None
    return embedded, numbers[0], texts[1], texts[2], numbers[3]
