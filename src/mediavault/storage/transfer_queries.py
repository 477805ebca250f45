"""SQL for export and import: every library row, table by table, as plain JSON values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import CustomMetadataField, Folder, VersionMetadata
from mediavault.errors import InvalidRequest
from mediavault.storage.dialects import insert_ignoring_duplicates
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.tables import (
    blobs,
    custom_metadata_fields,
    files,
    folders,
    version_custom_values,
    version_tags,
    versions,
)

EXPORT_BATCH_ROWS = 1000
# Parents before children, so that foreign keys hold while importing. Not version_custom_values:
# derived from the versions' custom metadata when they are imported (exports made before the
# table existed lack it).
TABLES = {
    t.name: t for t in (custom_metadata_fields, folders, blobs, files, versions, version_tags)
}


class TransferQueries:
    _db: sa.Connection
    _usage_recount: bool  # storage.usage_queries: recount the storage counters at the end

    def export_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, table in TABLES.items():
            query = sa.select(table).order_by(*table.primary_key.columns)
            if table is blobs:
                query = query.where(blobs.c.state == "live")
            # In batches (a server-side cursor on PostgreSQL), not the whole table at once.
            for row in self._db.execute(query.execution_options(yield_per=EXPORT_BATCH_ROWS)):
                yield name, dict(row._mapping)

    def import_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows of one table in one statement (executemany); they share their keys, as
        every row of a table in an export does."""
        if table not in TABLES:
            raise InvalidRequest(f"The export names an unknown table {table!r}.")
        self._db.execute(sa.insert(TABLES[table]), rows)
        if table == "versions":
            values = [
                r
                for row in rows
                for r in custom_value_rows(
                    row["id"], VersionMetadata(custom_metadata=row.get("custom_metadata") or {})
                )
            ]
            if values:
                self._db.execute(sa.insert(version_custom_values), values)
        self._usage_recount = True

    def is_empty(self) -> bool:
        for table in (files, folders, custom_metadata_fields):
            if self._db.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return False
        return True

    # -- import from an ImageKit API (services/imagekit_import.py): ids and times as given ----

    def file_of_version(self, version_id: str) -> str | None:
        """The id of the file that holds the version, whichever file that is."""
        query = sa.select(versions.c.file_id).where(versions.c.id == version_id)
        return self._db.scalar(query)

    def insert_folder_as_is(self, folder: Folder) -> bool:
        """Create the folder with its id and times; False when its path already exists."""
        done = self._db.execute(
            insert_ignoring_duplicates(self._db, folders, ["folder_path"])
            .values(
                id=folder.id,
                folder_path=folder.folder_path,
                name=folder.name,
                parent_path=folder.parent_path,
                created_at=folder.created_at,
                updated_at=folder.updated_at,
            )
            # RETURNING, not rowcount: psycopg counts a row skipped by ON CONFLICT here.
            .returning(folders.c.id)
        )
        return done.first() is not None

    def insert_field_as_is(self, field: CustomMetadataField, now: int) -> None:
        self._db.execute(
            sa.insert(custom_metadata_fields).values(
                id=field.id,
                name=field.name,
                label=field.label,
                schema=field.schema,
                is_deleted=False,
                created_at=now,
                updated_at=now,
            )
        )

    def set_version_times(self, version_id: str, created_at: int, updated_at: int) -> None:
        self._db.execute(
            sa.update(versions)
            .where(versions.c.id == version_id)
            .values(created_at=created_at, updated_at=updated_at)
        )
