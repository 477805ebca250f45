"""The hottest reads, one statement each: a version of a file, its current version, all of them.

A single statement needs no transaction: SQLite reads one consistent snapshot per statement,
and PostgreSQL runs it in autocommit. That saves the BEGIN and COMMIT of a read transaction,
which on these routes cost more than the lookup itself.

On SQLite the statements are compiled once and run on a raw sqlite3 connection kept by each
thread that reads, with SQLAlchemy's own result processors for the column types: the same rows
as through a SQLAlchemy Connection, for a fraction of the per-call work (profiled: the
Connection's execution machinery was most of a version lookup's time).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa

from mediavault.domain.models import FileVersion
from mediavault.storage.rows import file_from, version_from
from mediavault.storage.tables import files, versions

_FILE_PREFIX = "file__"
_FILE_WITH_VERSIONS = sa.select(
    *(column.label(f"{_FILE_PREFIX}{column.name}") for column in files.c), versions
).join_from(files, versions, versions.c.file_id == files.c.id)
_FILE_ID = files.c.id == sa.bindparam("file_id")

ONE_VERSION = _FILE_WITH_VERSIONS.where(_FILE_ID, versions.c.id == sa.bindparam("version_id"))
CURRENT_VERSION = _FILE_WITH_VERSIONS.where(_FILE_ID, versions.c.is_current)
ALL_VERSIONS = _FILE_WITH_VERSIONS.where(_FILE_ID).order_by(
    versions.c.is_current.desc(), versions.c.number.desc()
)

Rows = Sequence[Mapping[Any, Any]]
Runner = Callable[[sa.Select[Any], dict[str, str]], Rows]


class Lookups:
    def __init__(self, run: Runner) -> None:
        self._run = run

    def version(self, file_id: str, version_id: str) -> FileVersion | None:
        return _first(self._run(ONE_VERSION, {"file_id": file_id, "version_id": version_id}))

    def current(self, file_id: str) -> FileVersion | None:
        return _first(self._run(CURRENT_VERSION, {"file_id": file_id}))

    def versions(self, file_id: str) -> list[FileVersion]:
        """Current first, then the others newest number first; empty if there is no file."""
        rows = self._run(ALL_VERSIONS, {"file_id": file_id})
        if not rows:
            return []
        file = file_from(rows[0], _FILE_PREFIX)
        return [FileVersion(file, version_from(row)) for row in rows]


def _first(rows: Rows) -> FileVersion | None:
    if not rows:
        return None
    return FileVersion(file_from(rows[0], _FILE_PREFIX), version_from(rows[0]))


def through_connection(connection: sa.Connection) -> Runner:
    """Any dialect: the statements through a SQLAlchemy connection."""

    def run(statement: sa.Select[Any], params: dict[str, str]) -> Rows:
        return connection.execute(statement, params).mappings().all()

    return run


class _Prepared:
    """A statement compiled once for one dialect, run on a raw DB-API cursor."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.param_order = list(compiled.positiontup or ())
        columns = list(statement.selected_columns)
        self.keys = [str(column.key) for column in columns]
        # Only the columns whose type converts (JSON, booleans) are touched, by index.
        self.conversions = [
            (index, _decode_json if isinstance(column.type, sa.JSON) else processor)
            for index, column in enumerate(columns)
            if (processor := column.type.result_processor(dialect, None)) is not None
        ]

    def rows(self, cursor: sqlite3.Cursor, params: dict[str, str]) -> Rows:
        cursor.execute(self.sql, [params[name] for name in self.param_order])
        keys, conversions = self.keys, self.conversions
        rows = []
        for row in cursor.fetchall():
            values = list(row)
            for index, convert in conversions:
                if values[index] is not None:
                    values[index] = convert(values[index])
            rows.append(dict(zip(keys, values, strict=True)))
        return rows


def _decode_json(text: str) -> Any:
    # msgspec parses the same JSON as SQLAlchemy's json.loads, several times faster. Rows
    # written before NaN was refused may hold it, which only json.loads reads.
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


class SqliteLookups:
    """Raw sqlite3 connections for the lookups, one per reading thread, opened on first use."""

    def __init__(self, path: Path, dialect: sa.Dialect) -> None:
        self._path = path
        self._prepared = {
            statement: _Prepared(statement, dialect)
            for statement in (ONE_VERSION, CURRENT_VERSION, ALL_VERSIONS)
        }
        self._local = threading.local()

    def runner(self) -> Runner:
        cursor = self._cursor()
        prepared = self._prepared

        def run(statement: sa.Select[Any], params: dict[str, str]) -> Rows:
            return prepared[statement].rows(cursor, params)

        return run

    def _cursor(self) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None:
            # Autocommit (no BEGIN): each statement reads its own consistent snapshot.
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA query_only=ON")
            cursor = self._local.cursor = connection.cursor()
        return cursor
