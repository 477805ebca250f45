"""Statements built once, compiled once per dialect and run on the raw DB-API cursor.

SQLAlchemy's Connection.execute costs several times what SQLite's own `execute` does for the
short statements of the hot paths (its execution context, events, parameter and result
processing per call: bench/profile_writes.py). A Prepared statement keeps what that work
produces and does only the part that changes per call: the parameters in the compiled order,
each through the column type's own bind processor, and the result columns through the type's
result processor, so that rows hold what a SQLAlchemy Connection would have returned.

Only for statements built once (module constants, or functions cached by their arguments):
each statement is compiled and kept for the life of the process. Statements whose SQL depends
on the values (IN lists expanded per call) are not prepared.
"""

from __future__ import annotations

import json
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, cast

import msgspec
import sqlalchemy as sa

Row = Sequence[Any]


class Prepared:
    """One statement compiled for one dialect (qmark parameters: SQLite's)."""

    def __init__(
        self,
        statement: sa.ClauseElement,
        dialect: sa.Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = cast(
            sa.sql.compiler.SQLCompiler,
            statement.compile(dialect=dialect, column_keys=column_keys),
        )
        self.sql = str(compiled)
        if "__[POSTCOMPILE" in self.sql:
            raise ValueError("a statement with values expanded per call cannot be prepared")
        binds = compiled.binds
        self._params = [
            (
                name,
                binds[name].effective_value if not binds[name].required else _REQUIRED,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in compiled.positiontup or ()
        ]
        returning = _returns_rows(statement)
        columns = list(cast(sa.ReturnsRows, statement).exported_columns) if returning else []
        # Only the columns whose type converts (JSON, booleans) are touched, by index.
        self.conversions = [
            (index, _converter(column.type, processor))
            for index, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        ]
        self.returns_rows = bool(columns)
        self._row_type: type[tuple[Any, ...]] | None = None

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, default, process in self._params:
            value = params[name] if default is _REQUIRED else params.get(name, default)
            values.append(value if process is None else process(value))
        return values

    def converted(self, rows: list[Any]) -> list[Any]:
        """The rows, as lists, with the column types converted."""
        conversions = self.conversions
        for n, row in enumerate(rows):
            values = list(row)
            for index, convert in conversions:
                if values[index] is not None:
                    values[index] = convert(values[index])
            rows[n] = values
        return rows

    def rows(self, cursor: sqlite3.Cursor, params: Mapping[str, Any]) -> list[Any]:
        """Run the statement; its rows as lists, the column types converted."""
        cursor.execute(self.sql, self.parameters(params))
        return self.converted(cursor.fetchall())

    def named(self, rows: list[Any], description: Sequence[Sequence[Any]]) -> list[Any]:
        """Rows that read like SQLAlchemy's: by position, by attribute and by `_mapping`,
        named as the cursor names the columns (labels included, as SQLAlchemy's keys)."""
        if self._row_type is None:
            self._row_type = _named_row_type([str(column[0]) for column in description])
        make = self._row_type._make  # type: ignore[attr-defined]
        return [make(row) for row in rows]


_REQUIRED = object()


def _returns_rows(statement: sa.ClauseElement) -> bool:
    if isinstance(statement, sa.Select):
        return True
    return bool(getattr(statement, "_returning", ()))


def _named_row_type(keys: Sequence[str]) -> type[tuple[Any, ...]]:
    base = namedtuple("PreparedRow", keys, rename=True)  # type: ignore[misc]

    class PreparedRow(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(keys, self, strict=True))

    return PreparedRow


def _converter(column_type: Any, processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if isinstance(column_type, sa.JSON):
        return decode_json
    if isinstance(column_type, sa.Boolean):
        return bool  # SQLAlchemy's int_to_boolean for a value that is not NULL, as a builtin
    return processor


def decode_json(text: str) -> Any:
    # msgspec parses the same JSON as SQLAlchemy's json.loads, several times faster. Rows
    # written before NaN was refused may hold it, which only json.loads reads. Most optional
    # JSON columns hold JSON's null, which needs no parser.
    if text == "null":
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


class Result(Protocol):
    """What the write paths read of a statement's result: SQLAlchemy's CursorResult has it."""

    @property
    def rowcount(self) -> int: ...

    def first(self) -> Any: ...

    def scalar(self) -> Any: ...

    def scalars(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Statements(Protocol):
    """Runs statements built once inside a transaction."""

    def execute(self, statement: sa.Executable, params: Any = None) -> Result: ...


class ThroughConnection:
    """Any dialect: the statements through the transaction's SQLAlchemy connection."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def execute(self, statement: sa.Executable, params: Any = None) -> Result:
        return self._connection.execute(statement, params)


class PreparedResult:
    """A prepared statement's result, read as the write paths read SQLAlchemy's."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def all(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class OnSqliteConnection:
    """SQLite: the statements on the sqlite3 connection under the transaction's SQLAlchemy
    connection, so inside the same transaction; SQLite's errors raised as SQLAlchemy's (the
    store maps those to conflicts)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._dialect = connection.dialect
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self._cursor = driver.cursor()

    def execute(self, statement: sa.Executable, params: Any = None) -> Result:
        many = isinstance(params, list)
        first: Mapping[str, Any] = (params[0] if params else {}) if many else (params or {})
        prepared = self._prepared(statement, first)
        cursor = self._cursor
        try:
            if many:
                cursor.executemany(prepared.sql, [prepared.parameters(p) for p in params])
                return PreparedResult([], cursor.rowcount)
            cursor.execute(prepared.sql, prepared.parameters(first))
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(
                prepared.sql, params, exc, sqlite3.Error, dialect=self._dialect
            ) from exc
        if rows and prepared.returns_rows:
            rows = prepared.named(prepared.converted(rows), cursor.description)
        return PreparedResult(rows, cursor.rowcount)

    def _prepared(self, statement: sa.Executable, params: Mapping[str, Any]) -> Prepared:
        # An INSERT without values names its columns by the parameters given, as SQLAlchemy
        # compiles it per call.
        keys = None
        if isinstance(statement, sa.Insert) and _bare(statement):
            keys = tuple(sorted(params))
        key = (statement, keys)
        found = _PREPARED.get(key)
        if found is None:
            found = _PREPARED[key] = Prepared(
                cast(sa.ClauseElement, statement), self._dialect, keys
            )
        return found


# Every statement prepared on SQLite (one dialect's SQL), with the columns an INSERT names.
_PREPARED: dict[tuple[sa.Executable, tuple[str, ...] | None], Prepared] = {}


def _bare(statement: sa.Insert) -> bool:
    return not statement._values and not statement._multi_values


def statements_for(connection: sa.Connection) -> Statements:
    """The fastest way to run prepared statements on this connection's dialect."""
    if connection.dialect.name == "sqlite":
        return OnSqliteConnection(connection)
    return ThroughConnection(connection)
