"""The list and search API in SQL: a parsed searchQuery and the list parameters become one
portable SELECT over versions (with their files) and one over folders."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.domain.models import FileVersion, Folder
from mediavault.domain.search import And, Condition, Or, Query, mentions_type
from mediavault.storage.dialects import escape_like
from mediavault.storage.folder_queries import folder_from
from mediavault.storage.rows import file_from, version_from
from mediavault.storage.tables import files, folders, version_tags, versions

ItemKind = str  # "file" | "file-version" | "folder"
_FILE_COLUMNS = [c.label(f"f__{c.name}") for c in files.c]


@dataclass(frozen=True)
class ListQuery:
    kinds: frozenset[ItemKind]  # what `type` asks for when there is no searchQuery
    search: Query | None = None
    path: str | None = None
    file_type: str = "all"
    sort_key: str = "CREATED"
    descending: bool = False
    skip: int = 0
    limit: int = 1000
    tags: tuple[str, ...] = ()
    name: str | None = None


class ListingQueries:
    _db: sa.Connection

    def list_assets(self, query: ListQuery) -> list[FileVersion | Folder]:
        """Folders first, then files and versions, each sorted; skip/limit across both."""
        results: list[FileVersion | Folder] = []
        folder_filter = _folder_filter(query)
        skip, limit = query.skip, query.limit
        if folder_filter is not None:
            statement = sa.select(folders).where(folder_filter)
            total = self._db.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
            order = _folder_order(query)
            rows = self._db.execute(statement.order_by(*order).offset(skip).limit(limit))
            results.extend(folder_from(row) for row in rows)
            skip = max(0, skip - int(total or 0))
            limit -= len(results)
        version_filter = _version_filter(query, self._db.dialect.name)
        if version_filter is not None and limit > 0:
            statement = (
                sa.select(versions, *_FILE_COLUMNS)
                .join(files, files.c.id == versions.c.file_id)
                .where(version_filter)
                .order_by(*_version_order(query))
                .offset(skip)
                .limit(limit)
            )
            results.extend(_file_version(row) for row in self._db.execute(statement))
        return results


def _version_filter(query: ListQuery, dialect: str) -> Any:
    search = query.search
    if search is None:
        wanted = query.kinds - {"folder"}
        if not wanted:
            return None
        clauses = [_kind_filter(wanted)]
        if query.tags:
            clauses.append(_has_any_tag(query.tags))
        if query.name is not None:
            clauses.append(files.c.name == query.name)
    else:
        current_only = _current_only(query)
        clauses = [_compile(search, _VersionFields(current_only, dialect=dialect))]
        if current_only:
            clauses.append(versions.c.is_current)
    if query.path is not None:
        clauses.append(files.c.folder_path == query.path)
    if query.file_type != "all":
        clauses.append(versions.c.file_type == query.file_type)
    return sa.and_(*clauses)


def _current_only(query: ListQuery) -> bool:
    """Whether only current versions can match: then times and sorts use the file's columns."""
    if query.search is None:
        return query.kinds - {"folder"} == {"file"}
    # Versions appear only when the query asks for them by type (spec §3.8).
    return not mentions_type(query.search)


def _folder_filter(query: ListQuery) -> Any:
    if query.file_type != "all":
        return None
    if query.search is None:
        if "folder" not in query.kinds or query.tags:
            return None
        clauses: list[Any] = [sa.true()]
        if query.name is not None:
            clauses.append(folders.c.name == query.name)
    else:
        clauses = [_compile(query.search, _FolderFields())]
    if query.path is not None:
        clauses.append(folders.c.parent_path == query.path)
    return sa.and_(*clauses)


def _kind_filter(kinds: frozenset[ItemKind]) -> Any:
    if kinds >= {"file", "file-version"}:
        return sa.true()
    return versions.c.is_current if "file" in kinds else sa.not_(versions.c.is_current)


def _has_any_tag(tags: tuple[str, ...]) -> Any:
    # Uncorrelated, so the database reads the tag index once instead of probing every row.
    tagged = sa.select(version_tags.c.version_id).where(version_tags.c.tag.in_(tags))
    return versions.c.id.in_(tagged)


# -- searchQuery -> SQL ------------------------------------------------------------------------


def _compile(query: Query, fields: _Fields) -> Any:
    if isinstance(query, And):
        return sa.and_(*(_compile(p, fields) for p in query.parts))
    if isinstance(query, Or):
        return sa.or_(*(_compile(p, fields) for p in query.parts))
    expression = fields.condition(query)
    if query.negated:
        # A missing value (NULL) does not equal the value, so NOT = matches it.
        return sa.not_(sa.func.coalesce(expression, sa.false()))
    return expression


class _Fields:
    def condition(self, c: Condition) -> Any:
        raise NotImplementedError


def _compare(column: Any, op: str, values: tuple[Any, ...]) -> Any:
    if op == "in":
        return column.in_(values)
    if op == ":":
        prefix = str(values[0])
        # The range lets an index serve the prefix; LIKE keeps the match exact.
        return sa.and_(
            column >= prefix,
            column < prefix + "\U0010ffff",
            column.like(escape_like(prefix) + "%", escape="\\"),
        )
    value = values[0]
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    return operations[op](column, value)


class _VersionFields(_Fields):
    def __init__(self, current_only: bool, versions_only: bool = False, dialect: str = "") -> None:
        self.dialect = dialect
        # A current version's times are its file's (asset birth, last change).
        self.created: Any
        self.updated: Any
        if current_only:
            self.created, self.updated = files.c.created_at, files.c.updated_at
        elif versions_only:
            self.created, self.updated = versions.c.created_at, versions.c.updated_at
        else:
            current = versions.c.is_current
            self.created = sa.case((current, files.c.created_at), else_=versions.c.created_at)
            self.updated = sa.case((current, files.c.updated_at), else_=versions.c.updated_at)

    def condition(self, c: Condition) -> Any:
        field, op, values = c.field, c.op, c.values
        if field == "name":
            return _compare(files.c.name, op, values)
        if field == "type":
            return sa.or_(*(_type_clause(v) for v in values))
        if field == "tags":
            return _has_any_tag(tuple(str(v) for v in values))
        if field == "createdAt":
            return _compare(self.created, op, values)
        if field == "updatedAt":
            return _compare(self.updated, op, values)
        if field in ("size", "width", "height"):
            return _compare(versions.c[field], op, values)
        if field == "format":
            return versions.c.mime.in_([m for v in values for m in _mimes_of(str(v))])
        if field in ("private", "published", "transparency"):
            column = {
                "private": versions.c.is_private_file,
                "published": versions.c.is_published,
                "transparency": versions.c.has_alpha,
            }[field]
            return sa.func.coalesce(column, sa.false()) == bool(values[0])
        return _custom_metadata(field.removeprefix("customMetadata."), op, values, self.dialect)


def _type_clause(kind: object) -> Any:
    if kind == "file":
        return versions.c.is_current
    if kind == "file-version":
        return sa.not_(versions.c.is_current)
    return sa.false()


def _custom_metadata(key: str, op: str, values: tuple[Any, ...], dialect: str) -> Any:
    element = versions.c.custom_metadata[key]
    clauses = []
    for value in values:
        if isinstance(value, bool):
            column = _when_json_type(dialect, key, "boolean", element.as_boolean())
        elif isinstance(value, int | float):
            column = _when_json_type(dialect, key, "number", element.as_float())
        else:
            column = element.as_string()
        clauses.append(_compare(column, "=" if op == "in" else op, (value,)))
    return sa.or_(*clauses)


def _when_json_type(dialect: str, key: str, json_type: str, column: Any) -> Any:
    """PostgreSQL refuses to cast a JSON string to a number: compare only values of the type.
    (SQLite compares mixed types without error, and a string never equals a number there.)"""
    if dialect != "postgresql":
        return column
    kind = sa.func.json_typeof(versions.c.custom_metadata.op("->")(key))
    return sa.case((kind == json_type, column), else_=None)


class _FolderFields(_Fields):
    def condition(self, c: Condition) -> Any:
        if c.field == "name":
            return _compare(folders.c.name, c.op, c.values)
        if c.field == "type":
            return sa.true() if "folder" in c.values else sa.false()
        if c.field == "createdAt":
            return _compare(folders.c.created_at, c.op, c.values)
        if c.field == "updatedAt":
            return _compare(folders.c.updated_at, c.op, c.values)
        return sa.false()  # folders have no tags, sizes, formats or metadata


def _mimes_of(fmt: str) -> list[str]:
    fmt = fmt.lower().lstrip(".")
    guessed = mimetypes.guess_type(f"x.{fmt}")[0]
    candidates = {f"image/{fmt}", f"video/{fmt}", f"audio/{fmt}", f"application/{fmt}"}
    if guessed:
        candidates.add(guessed)
    return sorted(candidates)


# -- sorting -----------------------------------------------------------------------------------


def _version_order(query: ListQuery) -> list[Any]:
    versions_only = query.search is None and query.kinds - {"folder"} == {"file-version"}
    fields = _VersionFields(_current_only(query), versions_only)
    column = {
        "NAME": files.c.name,
        "CREATED": fields.created,
        "UPDATED": fields.updated,
        "HEIGHT": versions.c.height,
        "WIDTH": versions.c.width,
        "SIZE": versions.c.size,
    }.get(query.sort_key, fields.created)
    direction = sa.desc if query.descending else sa.asc
    return [direction(column), direction(versions.c.id)]


def _folder_order(query: ListQuery) -> list[Any]:
    column = {
        "CREATED": folders.c.created_at,
        "UPDATED": folders.c.updated_at,
    }.get(query.sort_key, folders.c.name)
    direction = sa.desc if query.descending else sa.asc
    return [direction(column), direction(folders.c.id)]


def _file_version(row: sa.Row[Any]) -> FileVersion:
    mapping = row._mapping
    file_row = {c.name: mapping[f"f__{c.name}"] for c in files.c}
    return FileVersion(file_from(file_row), version_from(mapping))
