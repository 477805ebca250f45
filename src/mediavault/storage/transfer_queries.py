"""SQL for export and import: every library row, table by table, as plain JSON values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mediavault.errors import InvalidRequest
from mediavault.storage.tables import (
    blobs,
    custom_metadata_fields,
    files,
    folders,
    version_tags,
    versions,
)

EXPORT_BATCH_ROWS = 1000
# Parents before children, so that foreign keys hold while importing.
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
        self._usage_recount = True

    def is_empty(self) -> bool:
        for table in (files, folders, custom_metadata_fields):
            if self._db.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return False
        return True
