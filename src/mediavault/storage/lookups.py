"""The hottest reads, one statement each: a version of a file, its current version, all of them.

A single statement needs no transaction: SQLite reads one consistent snapshot per statement,
and PostgreSQL runs it in autocommit. That saves the BEGIN and COMMIT of a read transaction,
which on these routes cost more than the lookup itself. The statements are built once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import FileVersion
from mediavault.storage.rows import file_from, version_from
from mediavault.storage.tables import files, versions

_FILE_PREFIX = "file_"
_FILE_WITH_VERSIONS = sa.select(
    *(column.label(f"{_FILE_PREFIX}{column.name}") for column in files.c), versions
).join_from(files, versions, versions.c.file_id == files.c.id)
_FILE_ID = files.c.id == sa.bindparam("file_id")

_ONE_VERSION = _FILE_WITH_VERSIONS.where(_FILE_ID, versions.c.id == sa.bindparam("version_id"))
_CURRENT_VERSION = _FILE_WITH_VERSIONS.where(_FILE_ID, versions.c.is_current)
_ALL_VERSIONS = _FILE_WITH_VERSIONS.where(_FILE_ID).order_by(
    versions.c.is_current.desc(), versions.c.number.desc()
)


class Lookups:
    def __init__(self, connection: sa.Connection) -> None:
        self._db = connection

    def version(self, file_id: str, version_id: str) -> FileVersion | None:
        row = self._db.execute(_ONE_VERSION, {"file_id": file_id, "version_id": version_id})
        return _first(row.mappings().all())

    def current(self, file_id: str) -> FileVersion | None:
        return _first(self._db.execute(_CURRENT_VERSION, {"file_id": file_id}).mappings().all())

    def versions(self, file_id: str) -> list[FileVersion]:
        """Current first, then the others newest number first; empty if there is no file."""
        rows = self._db.execute(_ALL_VERSIONS, {"file_id": file_id}).mappings().all()
        if not rows:
            return []
        file = file_from(rows[0], _FILE_PREFIX)
        return [FileVersion(file, version_from(row)) for row in rows]


def _first(rows: Sequence[Any]) -> FileVersion | None:
    if not rows:
        return None
    return FileVersion(file_from(rows[0], _FILE_PREFIX), version_from(rows[0]))
