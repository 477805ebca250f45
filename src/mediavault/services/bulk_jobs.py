"""Folder bulk jobs (spec §3): copy, move and rename a folder, durably, in batches.

A request only checks its parameters and writes a `bulk_jobs` row (`Pending`). Every server
process runs a BulkJobRunner: it claims a pending job with a lease (one process at a time runs
a job; a dead process's job is taken over at once, an expired lease's after it ends: see
storage/liveness.py), then processes the job's files in path order, a batch per transaction,
with the cursor and the count of files done written in the same transaction. A job cut short
by a crash or a restart resumes after the last committed batch; nothing is done twice.

Each file goes through services.organize (copy_into / move_into), so a moved file keeps its id
and history and a `file.moved` event is written, and a same-named file at the destination gets
the incoming versions appended, exactly as the file routes do. A file that cannot be taken
(its destination would pass the version limit) stays where it is; the job goes on and reports
`Completed`, as ImageKit's clients know no other status (the file is named in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from mediavault.domain import names
from mediavault.domain.ids import is_object_id, new_object_id
from mediavault.errors import Conflict, InvalidRequest, NotFound
from mediavault.services import organize, purge
from mediavault.services.clock import now_ms
from mediavault.services.stores import Stores
from mediavault.storage.bulk_job_queries import PENDING, BulkJob
from mediavault.storage.metadata import Transaction

log = logging.getLogger("mediavault.bulk_jobs")

COPY, MOVE, RENAME = "COPY_FOLDER", "MOVE_FOLDER", "RENAME_FOLDER"
# Longer than a batch can take; renewed by every batch.
LEASE_MS = 60_000
_MAX_RECORDED_ERRORS = 100


def start_copy(stores: Stores, source: str, destination: str, include_versions: bool) -> str:
    return _start(stores, COPY, source, destination, include_versions)


def start_move(stores: Stores, source: str, destination: str) -> str:
    return _start(stores, MOVE, source, destination, True)


def start_rename(
    stores: Stores,
    folder_path: str,
    new_folder_name: str,
    purge_cache: bool,
    purges: purge.Purges | None = None,
) -> str:
    folder = names.normalize_folder(folder_path)
    if folder == "/":
        raise InvalidRequest("folderPath cannot be the root folder.", reason="INVALID_FOLDER_PATH")
    name = names.sanitize_folder_name(new_folder_name)
    parent = folder[: len(folder) - len(names.folder_name_of(folder)) - 1]
    target = f"{parent}{name}/"
    job_id = new_object_id()
    with stores.meta.write() as tx:
        _ensure_exists(tx, folder, "folderPath", folder_path)
        if target == folder:
            raise InvalidRequest(
                "newFolderName cannot be the same as its existing name.",
                reason="SAME_OLD_AND_NEW_NAME",
            )
        if tx.get_folder(target) is not None or tx.has_files_under(target):
            raise Conflict(
                f"Folder with name {name} already exists at the same location.",
                reason="FOLDER_ALREADY_EXISTS",
            )
        purge_id = None
        if purge_cache and purges is not None:
            # One purge of `<old folder URL>*`, forwarded once the job has moved everything.
            purge_id = purges.record(tx, purges.folder_url(folder), waiting_for_job=job_id)
        tx.insert_bulk_job(_new_job(job_id, RENAME, folder, target, True, purge_id), now_ms())
    if purge_id is not None and purges is not None:
        purges.forget_renditions_under(folder)
    return job_id


def get_job(stores: Stores, job_id: str) -> BulkJob:
    job = None
    if is_object_id(job_id):
        with stores.meta.read() as tx:
            job = tx.get_bulk_job(job_id)
    if job is None:
        raise NotFound("The requested job does not exist.")
    return job


def _start(
    stores: Stores, kind: str, source_raw: str, destination_raw: str, include_versions: bool
) -> str:
    source = names.normalize_folder(source_raw)
    destination = names.normalize_folder(destination_raw)
    if source == "/":
        raise InvalidRequest("sourceFolderPath cannot be the root folder.", reason="SOURCE_IS_ROOT")
    target = f"{destination}{names.folder_name_of(source)}/"
    if destination == source or target == source:
        raise InvalidRequest(
            "sourceFolderPath and destinationPath is same", reason="SAME_SOURCE_AND_DESTINATION"
        )
    if kind == MOVE and destination.startswith(source):
        raise InvalidRequest(
            "This operation is not allowed because parent folder cannot be moved into child "
            "folder.",
            reason="INVALID_DESTINATION_PATH",
        )
    job_id = new_object_id()
    with stores.meta.write() as tx:
        _ensure_exists(tx, source, "sourceFolderPath", source_raw)
        tx.insert_bulk_job(_new_job(job_id, kind, source, target, include_versions), now_ms())
    return job_id


def _ensure_exists(tx: Transaction, folder: str, parameter: str, raw: str) -> None:
    if tx.get_folder(folder) is None and not tx.has_files_under(folder):
        raise NotFound(
            f"No files & folder found at {parameter} {raw.strip()}", reason="NO_FILES_FOLDER"
        )


def _new_job(
    job_id: str, kind: str, source: str, target: str, include_versions: bool,
    purge_request_id: str | None = None,
) -> BulkJob:  # fmt: skip
    return BulkJob(
        job_id, kind, PENDING, source, target, include_versions, purge_request_id,
        None, 0, [], None, None,
    )  # fmt: skip


def run_batch(stores: Stores, job_id: str, batch_size: int) -> bool:
    """Process the job's next batch of files in one transaction; True while files remain.

    False when the job is complete, or no longer this process's (taken over after a lease
    ran out): then the other process goes on from the last committed batch."""
    with stores.meta.write() as tx:
        now = now_ms()
        job = tx.get_bulk_job(job_id, lock=True)
        if job is None or job.status != PENDING or job.owner != stores.liveness.owner:
            return False
        paths = tx.job_file_paths(job.source_path, job.cursor, _skipped(job), batch_size)
        errors, done = list(job.errors), job.files_done
        for path in paths:
            source = tx.get_file_by_path(path, lock=True)
            if source is None:
                continue
            destination = job.target_path + source.folder_path[len(job.source_path) :]
            try:
                if job.type == COPY:
                    organize.copy_into(tx, stores, source, destination, job.include_versions, now)
                else:
                    organize.move_into(tx, stores, source, destination, now)
            except InvalidRequest as exc:  # refused before anything of this file was written
                log.warning("bulk job %s left %s where it is: %s", job.id, path, exc.message)
                if len(errors) < _MAX_RECORDED_ERRORS:
                    errors.append({"filePath": path, "message": exc.message})
                continue
            done += 1
        if len(paths) == batch_size:
            tx.advance_bulk_job(job.id, paths[-1], done, errors, now, now + LEASE_MS)
            return True
        tx.advance_bulk_job(job.id, paths[-1] if paths else job.cursor, done, errors, now, now)
        _finish(tx, job, now)
        return False


def _skipped(job: BulkJob) -> str | None:
    """A copy into its own source folder must not copy its copies."""
    if job.type == COPY and job.target_path.startswith(job.source_path):
        return job.target_path
    return None


def _finish(tx: Transaction, job: BulkJob, now: int) -> None:
    """Folders come along (empty ones too); a moved folder goes once nothing is left in it."""
    skipped = _skipped(job)
    tx.ensure_folders(job.target_path, now)
    for folder in tx.folder_paths_under(job.source_path):
        if skipped is None or not folder.startswith(skipped):
            tx.ensure_folders(job.target_path + folder[len(job.source_path) :], now)
    if job.type != COPY and not tx.has_files_under(job.source_path):
        tx.delete_folders_under(job.source_path)
    tx.complete_bulk_job(job.id, now)
    if job.purge_request_id is not None:
        tx.release_purge_request(job.purge_request_id, now)


def claim_next(stores: Stores) -> str | None:
    """A pending job this process may run (unclaimed, its own, or a dead or late owner's)."""
    owner = stores.liveness.owner
    with stores.meta.read() as tx:
        candidates = tx.pending_bulk_jobs()
    for job in candidates:
        now = now_ms()
        if (
            job.owner is not None
            and job.owner != owner
            and (job.lease_until or 0) > now
            and stores.liveness.is_alive(job.owner)
        ):
            continue
        with stores.meta.write() as tx:
            claimed = tx.claim_bulk_job(job.id, owner, now, LEASE_MS, stores.liveness.is_alive)
        if claimed is not None:
            return claimed.id
    return None


class BulkJobRunner:
    """Runs pending jobs in this process, one batch per worker-thread call (so a shutdown
    waits for one batch at most); polls, and wakes at once for a job created here."""

    def __init__(self, stores: Stores, batch_size: int, poll_seconds: float = 1.0) -> None:
        self._stores = stores
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                job_id = await to_thread.run_sync(claim_next, self._stores)
                while job_id is not None and await to_thread.run_sync(
                    run_batch, self._stores, job_id, self._batch_size
                ):
                    pass
            except Exception:  # the job stays claimed by this process; the next round goes on
                log.warning("running a bulk job failed", exc_info=True)
                job_id = None
            if job_id is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                self._wake.clear()
