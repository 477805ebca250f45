"""The list and search API in SQL: a parsed searchQuery and the list parameters become SELECTs
over versions (with their files) and over folders.

A search of current files (the common case: no `type` in the searchQuery) goes through
mediavault.storage.search_plan, which picks the index that drives it; every other listing is
one plain statement. Rows become records by position, with JSON decoded by msgspec.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa

from mediavault.domain.models import (
    ContentInfo,
    File,
    FileVersion,
    Folder,
    Version,
    VersionMetadata,
)
from mediavault.domain.search import And, Condition, Query, mentions_type
from mediavault.storage import search_plan
from mediavault.storage.folder_queries import folder_from
from mediavault.storage.search_sql import (
    CURRENT_VERSION,
    FILE_TYPE,
    PATH,
    FolderFields,
    VersionFields,
    compile_query,
    has_any_tag,
)
from mediavault.storage.tables import files, folders, versions

ItemKind = str  # "file" | "file-version" | "folder"
SORT_KEYS = frozenset({"NAME", "CREATED", "UPDATED", "HEIGHT", "WIDTH", "SIZE"})


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


class Listed(NamedTuple):
    """A file or version of a listing made with list_assets_reusing, read from the database:
    its record and the file revision it was read at. (A result the caller had kept comes as
    the answer it kept, in its place in the list.)"""

    key: str  # which version: its id, or in a listing of current files, CURRENT + the file's
    revision: int
    item: FileVersion


# For each (key, file revision) of a page, the caller's answer kept for it, or None.
# `files.revision` moves with every change to a file or any of its versions (migration 0010),
# so an answer kept for the same revision is the answer a fresh read would make.
Reuse = Callable[[Sequence[tuple[str, int]]], list[Any]]
# A listing of current files names each by its file: the versions' rows are then never read
# for the page (the partial index of current versions says which is current), which was half
# of the first statement's time for a folder of 1,000 (sqlite3, in-process). Ids hold no "/".
CURRENT = "current/"


class ListingQueries:
    _db: sa.Connection

    def list_assets(self, query: ListQuery, plan: str | None = None) -> list[FileVersion | Folder]:
        """Folders first, then files and versions, each sorted; skip/limit across both.

        `plan` forces one of search_plan.PLANS for a search of current files (tests compare
        them); by default the cheaper one is chosen.
        """
        listed = self._list(query, plan, _PageReader(self._db, None, _current_only(query)))
        return [entry.item if isinstance(entry, Listed) else entry for entry in listed]

    def list_assets_reusing(self, query: ListQuery, reuse: Reuse | None) -> list[Any]:
        """The same results as list_assets, in the same order: folders, Listed records with
        their files' revisions, and in place of each version `reuse` kept an answer for at its
        file's revision, that answer (any object but a Folder or a Listed).

        With `reuse`, the ordered page is read first as (key, revision) pairs (Listed.key),
        and only the records `reuse` has nothing for come after. Each value a row carries costs
        the database driver a Python object: a File object's 32 columns were most of the time
        of listing a folder of 1,000 (profiled). Without it, one statement reads them all, as
        list_assets does: the first statement is wasted work when nothing is kept."""
        return self._list(query, None, _PageReader(self._db, reuse, _current_only(query)))

    def _list(self, query: ListQuery, plan: str | None, fetch: _PageReader) -> list[Any]:
        results: list[Any] = []
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
        if limit > 0:
            results.extend(self._list_versions(query, skip, limit, plan, fetch))
        return results

    def _list_versions(
        self, query: ListQuery, skip: int, limit: int, forced: str | None, fetch: _PageReader
    ) -> Sequence[Any]:
        columns = fetch.columns
        order = _version_order(query)
        if not _current_only(query):
            where = _version_filter(query, self._db.dialect.name)
            if where is None:
                return []
            return fetch(_versions_select(columns, [where], order).offset(skip).limit(limit))
        search = search_plan.Search(
            filter=_current_filter(query),
            sort_key=query.sort_key if query.sort_key in SORT_KEYS else "CREATED",
            descending=query.descending,
            skip=skip,
            limit=limit,
        )
        plan = search_plan.choose(self._db, search, forced)
        if plan.name == "plain":
            where = [versions.c.is_current]
            if search.filter is not None:
                where.append(compile_query(search.filter, _current_fields(self._db, True)))
            return fetch(_versions_select(columns, where, order).offset(skip).limit(limit))
        # Every condition filters, none may drive: the plan adds the one that does (alone, when
        # it is the whole search).
        assert search.filter is not None
        residual = []
        if plan.name != "filter" or plan.driver != search.filter:
            residual.append(compile_query(search.filter, _current_fields(self._db, False)))

        def statement(extra: list[Any], rows: int) -> sa.Select[Any]:
            where = [*residual, CURRENT_VERSION, *extra]
            return _versions_select(columns, where, order).limit(rows)

        if plan.name == "filter":
            return fetch(search_plan.run_filter(plan, statement, skip, limit))
        return search_plan.run_order(self._db, search, plan, statement, fetch)


# A row read whole, as a Listed: its key, revision and record.
_Read = tuple[str, int, FileVersion]


class _PageReader:
    """Runs a listing's statement, selecting `columns`, and makes its rows results. Without
    `reuse`: every column and the revision, in one statement. With it: the page as (key,
    revision) pairs, then the records of those `reuse` has nothing for."""

    def __init__(self, db: sa.Connection, reuse: Reuse | None, current_only: bool) -> None:
        self._db = db
        self._reuse = reuse
        self._current_only = current_only
        self._dialect = db.dialect.name
        self._build = _row_builder(self._dialect)
        self._whole = (*_columns(self._dialect), files.c.revision)
        keys = (files.c.id if current_only else versions.c.id, files.c.revision)
        self.columns = self._whole if reuse is None else keys

    def __call__(self, statement: sa.Select[Any]) -> list[Any]:
        """Listed results, and where `reuse` kept an answer, that answer in the result's place."""
        if self._reuse is None:
            return [Listed._make(row) for row in self._rows(statement)]
        prefix = CURRENT if self._current_only else ""
        pairs = [(prefix + id_, revision) for id_, revision in self._db.execute(statement).all()]
        kept = self._reuse(pairs)
        missing = [key for (key, _), answer in zip(pairs, kept, strict=True) if answer is None]
        if not missing:
            return kept  # the common case of a page asked for again: nothing to read or make
        if 2 * len(missing) > len(pairs):
            # Looking up most of a page by id costs more than running its statement again.
            read = self._by_key(self._rows(statement.with_only_columns(*self._whole)))
        else:
            read = self._by_ids([key.removeprefix(prefix) for key in missing])
        # A version gone between the two statements (PostgreSQL reads each statement's own
        # snapshot) is left out, as a listing a moment later would; one changed meanwhile
        # comes with the revision its record was read at.
        return [
            answer if answer is not None else Listed(key, *read[key])
            for (key, _), answer in zip(pairs, kept, strict=True)
            if answer is not None or key in read
        ]

    def _rows(self, statement: sa.Select[Any], **parameters: Any) -> list[_Read]:
        build = self._build
        rows = self._db.execute(statement, parameters).all()
        if self._current_only:
            return [(CURRENT + row[_FILE_ID], row[-1], build(row[:-1])) for row in rows]
        return [(row[0], row[-1], build(row[:-1])) for row in rows]

    @staticmethod
    def _by_key(rows: list[_Read]) -> dict[str, tuple[int, FileVersion]]:
        return {row[0]: row[1:] for row in rows}

    def _by_ids(self, ids: list[str]) -> dict[str, tuple[int, FileVersion]]:
        """The records of these versions, or of these files' current versions."""
        statement = _by_ids(self._dialect, self._current_only)
        read: dict[str, tuple[int, FileVersion]] = {}
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            read.update(
                self._by_key(self._rows(statement, ids=ids[start : start + _IDS_PER_STATEMENT]))
            )
        return read


# Well under every database's limit of bound parameters; a page holds at most 1,000.
_IDS_PER_STATEMENT = 500


@functools.cache
def _by_ids(dialect: str, current_only: bool) -> sa.Select[Any]:
    ids: Any = sa.bindparam("ids", expanding=True)
    where = [files.c.id.in_(ids), CURRENT_VERSION] if current_only else [versions.c.id.in_(ids)]
    return _versions_select((*_columns(dialect), files.c.revision), where, [])


def _current_fields(db: sa.Connection, indexed: bool) -> VersionFields:
    return VersionFields(current_only=True, dialect=db.dialect.name, indexed=indexed)


def _current_filter(query: ListQuery) -> Query | None:
    """The search and the list parameters, as one condition over current versions."""
    parts: list[Query | None] = [query.search]
    if query.search is None:
        if query.tags:
            parts.append(Condition("tags", "in", query.tags))
        if query.name is not None:
            parts.append(Condition("name", "=", (query.name,)))
    if query.path is not None:
        parts.append(Condition(PATH, "=", (query.path,)))
    if query.file_type != "all":
        parts.append(Condition(FILE_TYPE, "=", (query.file_type,)))
    return search_plan.conditions_of(parts)


def _version_filter(query: ListQuery, dialect: str) -> Any:
    search = query.search
    if search is None:
        wanted = query.kinds - {"folder"}
        if not wanted:
            return None
        clauses = [_kind_filter(wanted)]
        if query.tags:
            clauses.append(has_any_tag(query.tags))
        if query.name is not None:
            clauses.append(files.c.name == query.name)
    else:
        current_only = _current_only(query)
        clauses = [compile_query(search, VersionFields(current_only, dialect=dialect))]
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
        if _folders_match(query.search) is False:
            return None  # two statements saved: no folder can match
        clauses = [compile_query(query.search, FolderFields())]
    if query.path is not None:
        clauses.append(folders.c.parent_path == query.path)
    return sa.and_(*clauses)


def _folders_match(query: Query) -> bool | None:
    """Whether every folder matches (True), none does (False), or it depends (None), as
    FolderFields compiles the query: folders have a name and times, and nothing else."""
    if isinstance(query, Condition):
        if query.field in ("name", "createdAt", "updatedAt"):
            return None
        matches = "folder" in query.values if query.field == "type" else False
        return matches != query.negated
    parts = [_folders_match(part) for part in query.parts]
    decisive, other = (False, True) if isinstance(query, And) else (True, False)
    if decisive in parts:
        return decisive
    return other if all(part is other for part in parts) else None


def _kind_filter(kinds: frozenset[ItemKind]) -> Any:
    if kinds >= {"file", "file-version"}:
        return sa.true()
    return versions.c.is_current if "file" in kinds else sa.not_(versions.c.is_current)


# -- sorting -----------------------------------------------------------------------------------


def _version_order(query: ListQuery) -> list[Any]:
    versions_only = query.search is None and query.kinds - {"folder"} == {"file-version"}
    fields = VersionFields(_current_only(query), versions_only)
    column = {
        "NAME": files.c.name,
        "CREATED": fields.created,
        "UPDATED": fields.updated,
        "HEIGHT": versions.c.height,
        "WIDTH": versions.c.width,
        "SIZE": versions.c.size,
    }.get(query.sort_key, fields.created)
    direction = sa.desc if query.descending else sa.asc
    # Ties in the order of ids: with one row per file, the file's, which the page's first
    # statement then reads without the versions' rows (_PageReader).
    tie = files.c.id if _current_only(query) else versions.c.id
    return [direction(column), direction(tie)]


def _folder_order(query: ListQuery) -> list[Any]:
    column = {
        "CREATED": folders.c.created_at,
        "UPDATED": folders.c.updated_at,
    }.get(query.sort_key, folders.c.name)
    direction = sa.desc if query.descending else sa.asc
    return [direction(column), direction(folders.c.id)]


# -- rows --------------------------------------------------------------------------------------

_VERSION_COLUMNS = (
    "id", "file_id", "number", "blob_digest", "size", "mime", "file_type", "width", "height",
    "has_alpha", "embedded_metadata", "duration", "video_codec", "audio_codec", "bit_rate",
    "tags", "ai_tags", "custom_metadata", "custom_coordinates", "description", "is_private_file",
    "is_published", "token", "is_current", "created_at", "updated_at",
)  # fmt: skip
_FILE_COLUMNS = ("id", "name", "folder_path", "last_version_number", "created_at", "updated_at")
_FILE_ID = len(_VERSION_COLUMNS)  # where the file's id is in a row of _columns; the version's: 0
_JSON_COLUMNS = frozenset({"tags", "ai_tags", "custom_metadata", "embedded_metadata"})


@functools.cache
def _columns(dialect: str) -> tuple[Any, ...]:
    """The selected columns, in the order _row_builder reads them. On SQLite the JSON columns
    come as text and are decoded by msgspec (several times faster than json.loads). Made once
    per dialect: building the labels again cost a tenth of a small search (profiled)."""
    selected: list[Any] = []
    for name in _VERSION_COLUMNS:
        column: Any = versions.c[name]
        if name in _JSON_COLUMNS and dialect == "sqlite":
            column = sa.type_coerce(column, sa.Text).label(name)
        selected.append(column)
    selected.extend(files.c[name].label(f"f__{name}") for name in _FILE_COLUMNS)
    return tuple(selected)


def _versions_select(columns: Sequence[Any], where: list[Any], order: list[Any]) -> sa.Select[Any]:
    return (
        sa.select(*columns)
        .join_from(versions, files, files.c.id == versions.c.file_id)
        .where(*where)
        .order_by(*order)
    )


def _decode_json(text: str | None) -> Any:
    if text is None:
        return None
    # Rows written before NaN was refused may hold it, which only json.loads reads.
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def _as_loaded(value: Any) -> Any:
    return value  # PostgreSQL's driver hands JSON over decoded


def _row_builder(dialect: str) -> Callable[[Any], FileVersion]:
    load = _decode_json if dialect == "sqlite" else _as_loaded

    def build(row: Any) -> FileVersion:
        (
            id_, file_id, number, digest, size, mime, file_type, width, height, has_alpha,
            embedded_metadata, duration, video_codec, audio_codec, bit_rate, tags, ai_tags,
            custom_metadata, custom_coordinates, description, is_private_file,
            is_published, token, is_current, created_at, updated_at,
            f_id, f_name, f_folder_path, f_last_version_number, f_created_at, f_updated_at,
        ) = row  # fmt: skip
        return FileVersion(
            File(f_id, f_name, f_folder_path, f_last_version_number, f_created_at, f_updated_at),
            Version(
                id=id_,
                file_id=file_id,
                number=number,
                content=ContentInfo(
                    digest,
                    size,
                    mime,
                    file_type,
                    width,
                    height,
                    has_alpha,
                    load(embedded_metadata),
                    duration,
                    video_codec,
                    audio_codec,
                    bit_rate,
                ),
                metadata=VersionMetadata(
                    tags=load(tags),
                    ai_tags=load(ai_tags),
                    custom_metadata=load(custom_metadata) or {},
                    custom_coordinates=custom_coordinates,
                    description=description,
                    is_private_file=is_private_file,
                    is_published=is_published,
                ),
                token=token,
                is_current=is_current,
                created_at=created_at,
                updated_at=updated_at,
            ),
        )

    return build
