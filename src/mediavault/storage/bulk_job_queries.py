"""SQL for folder bulk jobs (services.bulk_jobs): created, claimed with a lease, advanced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.storage.dialects import escape_like
from mediavault.storage.tables import bulk_jobs, files, folders

PENDING = "Pending"
COMPLETED = "Completed"


@dataclass(frozen=True)
class BulkJob:
    id: str
    type: str
    status: str
    source_path: str  # "/a/b/"
    target_path: str  # "/c/b/": where the source's contents go
    include_versions: bool
    purge_request_id: str | None
    cursor: str | None
    files_done: int
    errors: list[dict[str, str]]
    owner: int | None
    lease_until: int | None


class BulkJobQueries:
    _db: sa.Connection

    def insert_bulk_job(self, job: BulkJob, now: int) -> None:
        self._db.execute(
            sa.insert(bulk_jobs).values(
                id=job.id,
                type=job.type,
                status=job.status,
                source_path=job.source_path,
                target_path=job.target_path,
                include_versions=job.include_versions,
                purge_request_id=job.purge_request_id,
                cursor=None,
                files_done=0,
                errors=None,
                owner=None,
                lease_until=None,
                created_at=now,
                updated_at=now,
            )
        )

    def get_bulk_job(self, job_id: str, *, lock: bool = False) -> BulkJob | None:
        query = sa.select(bulk_jobs).where(bulk_jobs.c.id == job_id)
        row = self._db.execute(query.with_for_update() if lock else query).first()
        return _job_from(row._mapping) if row else None

    def pending_bulk_jobs(self, limit: int = 16) -> list[BulkJob]:
        query = (
            sa.select(bulk_jobs)
            .where(bulk_jobs.c.status == PENDING)
            .order_by(bulk_jobs.c.created_at)
            .limit(limit)
        )
        return [_job_from(row._mapping) for row in self._db.execute(query)]

    def claim_bulk_job(
        self, job_id: str, owner: int, now: int, lease_ms: int, is_alive: Callable[[int], bool]
    ) -> BulkJob | None:
        """Take the job for `owner` unless another live process holds an unexpired lease."""
        job = self.get_bulk_job(job_id, lock=True)
        if job is None or job.status != PENDING:
            return None
        held = (
            job.owner is not None
            and job.owner != owner
            and (job.lease_until or 0) > now
            and is_alive(job.owner)
        )
        if held:
            return None
        self._db.execute(
            sa.update(bulk_jobs)
            .where(bulk_jobs.c.id == job_id)
            .values(owner=owner, lease_until=now + lease_ms)
        )
        return job

    def job_file_paths(
        self, source_path: str, after: str | None, skip_under: str | None, limit: int
    ) -> list[str]:
        """The next file paths under the source, in path order, after the cursor."""
        query = sa.select(files.c.file_path).where(
            files.c.folder_path.like(escape_like(source_path) + "%", escape="\\")
        )
        if after is not None:
            query = query.where(files.c.file_path > after)
        if skip_under is not None:
            query = query.where(
                sa.not_(files.c.folder_path.like(escape_like(skip_under) + "%", escape="\\"))
            )
        return list(self._db.scalars(query.order_by(files.c.file_path).limit(limit)))

    def folder_paths_under(self, folder_path: str) -> list[str]:
        """The folder itself (if it has a row) and every folder below it."""
        query = sa.select(folders.c.folder_path).where(
            folders.c.folder_path.like(escape_like(folder_path) + "%", escape="\\")
        )
        return list(self._db.scalars(query.order_by(folders.c.folder_path)))

    def has_files_under(self, folder_path: str) -> bool:
        query = sa.select(files.c.id).where(
            files.c.folder_path.like(escape_like(folder_path) + "%", escape="\\")
        )
        return self._db.execute(query.limit(1)).first() is not None

    def advance_bulk_job(
        self, job_id: str, cursor: str | None, files_done: int, errors: list[Any], now: int,
        lease_until: int,
    ) -> None:  # fmt: skip
        self._db.execute(
            sa.update(bulk_jobs)
            .where(bulk_jobs.c.id == job_id)
            .values(
                cursor=cursor,
                files_done=files_done,
                errors=errors or None,
                updated_at=now,
                lease_until=lease_until,
            )
        )

    def complete_bulk_job(self, job_id: str, now: int) -> None:
        self._db.execute(
            sa.update(bulk_jobs)
            .where(bulk_jobs.c.id == job_id)
            .values(status=COMPLETED, owner=None, lease_until=None, updated_at=now)
        )


def _job_from(row: Any) -> BulkJob:
    return BulkJob(
        id=row["id"],
        type=row["type"],
        status=row["status"],
        source_path=row["source_path"],
        target_path=row["target_path"],
        include_versions=bool(row["include_versions"]),
        purge_request_id=row["purge_request_id"],
        cursor=row["cursor"],
        files_done=int(row["files_done"]),
        errors=list(row["errors"] or []),
        owner=row["owner"],
        lease_until=row["lease_until"],
    )
