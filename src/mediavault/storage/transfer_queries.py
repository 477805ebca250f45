"""SQL for export and import: every library row, table by table, as plain JSON values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mediavault.storage.tables import (
    blobs,
    custom_metadata_fields,
    files,
    folders,
    version_tags,
    versions,
)

# Parents before children, so that foreign keys hold while importing.
TABLES = {
    t.name: t for t in (custom_metadata_fields, folders, blobs, files, versions, version_tags)
}


class TransferQueries:
    _db: sa.Connection

    def export_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, table in TABLES.items():
            query = sa.select(table).order_by(*table.primary_key.columns)
            if table is blobs:
                query = query.where(blobs.c.state == "live")
            for row in self._db.execute(query):
                yield name, dict(row._mapping)

    def import_row(self, table: str, row: dict[str, Any]) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r} in the export")
        self._db.execute(sa.insert(TABLES[table]).values(**row))

    def is_empty(self) -> bool:
        for table in (files, folders, custom_metadata_fields):
            if self._db.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return False
        return True
