"""A parsed searchQuery as SQL conditions over versions (with their files) and over folders.

Every condition can be written two ways: `indexed`, as the database would use an index for it,
or not, when the caller has chosen which index drives the statement (mediavault.storage.
search_plan) and the other conditions must only filter. On SQLite an unindexed column is
written `+column`, the documented way to keep SQLite's planner off an index; elsewhere it is
the plain column. Both ways match exactly the same rows.
"""

from __future__ import annotations

import functools
import math
import mimetypes
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType

from mediavault.domain.search import And, Condition, Or, Query
from mediavault.storage.dialects import escape_like
from mediavault.storage.rows import CUSTOM_FIELD, CUSTOM_STRING_BYTES
from mediavault.storage.tables import (
    files,
    folders,
    version_custom_values,
    version_tags,
    versions,
)

# Conditions the list parameters add to a searchQuery: they are compiled like its own.
PATH = "folderPath"  # files in exactly this folder (`path`)
FILE_TYPE = "fileType"  # versions.file_type (`fileType`)


# "A current version" for a statement whose driving index is chosen (search_plan): the bare
# column, as on every dialect `versions.is_current` (not `= 1`, SQLAlchemy's boolean on SQLite).
# No index takes it as a constraint, so it drives nothing; and it is the WHERE of the partial
# unique index on versions (file_id) WHERE is_current, which SQLite may then use for a file's
# current version: one entry per file, where `+versions.is_current = 1` left it the unique
# (file_id, number), which reads every version of the file to find the current one.
CURRENT_VERSION = sa.text("versions.is_current")


class Unindexed(sa.ColumnElement[Any]):
    """A column that SQLite's planner may not use an index for: `+column` (no-op in value).

    `+x` has no type affinity in SQLite; every value compared here is already of the column's
    own type (numbers with numbers, text with text), so no comparison changes meaning.
    """

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 - SQLAlchemy's own shape
        ("column", InternalTraversal.dp_clauseelement)
    ]

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _plain_column(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Unindexed, "sqlite")
def _sqlite_unindexed_column(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def compile_query(query: Query, fields: Fields) -> Any:
    if isinstance(query, And):
        return sa.and_(*(compile_query(p, fields) for p in query.parts))
    if isinstance(query, Or):
        return sa.or_(*(compile_query(p, fields) for p in query.parts))
    expression = fields.condition(query)
    if query.negated:
        # A missing value (NULL) does not equal the value, so NOT = matches it.
        return sa.not_(sa.func.coalesce(expression, sa.false()))
    return expression


class Fields:
    def condition(self, c: Condition) -> Any:
        raise NotImplementedError


def compare(column: Any, op: str, values: tuple[Any, ...]) -> Any:
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


# The columns' range: INTEGER, 32 bits on PostgreSQL (SQLite stores what the prober gives).
_INTEGER_MAX = 2**31 - 1
_INTEGER_MIN = -(2**31)


def compare_integer(column: Any, op: str, value: float) -> Any:
    """`column op value` for an integer column, with an integer on the right: the same rows
    (for whole numbers x: x > 2.5 is x > 2, x >= 2.5 is x >= 3, x = 2.5 never), and
    PostgreSQL then compares in the column's own type and can use its index, where
    `integer > double precision` casts every row. Beyond the column's range a comparison is
    true for every value or for none (a missing value matches neither way, as before)."""
    if value > _INTEGER_MAX or value < _INTEGER_MIN:
        above = value > _INTEGER_MAX
        everything = op in ("<", "<=") if above else op in (">", ">=")
        return column.is_not(None) if everything else sa.false()
    if op == "=":
        return column == int(value) if value.is_integer() else sa.false()
    bound = {
        ">": math.floor(value),
        ">=": math.ceil(value),
        "<": math.ceil(value),
        "<=": math.floor(value),
    }[op]
    return compare(column, op, (bound,))


def has_any_tag(tags: tuple[str, ...], version_id: Any = versions.c.id) -> Any:
    # Uncorrelated, so the database reads the tag index once instead of probing every row.
    tagged = sa.select(version_tags.c.version_id).where(version_tags.c.tag.in_(tags))
    return version_id.in_(tagged)


def tagged_with_any(tags: tuple[str, ...]) -> Any:
    """The same rows as has_any_tag, probed row by row (the version's tag rows by key): for a
    statement driven by another index, where reading every version with the tag would cost
    more than the rows it looks at."""
    return sa.exists().where(
        version_tags.c.version_id == versions.c.id, version_tags.c.tag.in_(tags)
    )


class VersionFields(Fields):
    def __init__(
        self,
        current_only: bool,
        versions_only: bool = False,
        dialect: str = "",
        indexed: bool = True,
    ) -> None:
        self.dialect = dialect
        self.indexed = indexed
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

    def column(self, column: Any) -> Any:
        return column if self.indexed else Unindexed(column)

    def condition(self, c: Condition) -> Any:
        field, op, values = c.field, c.op, c.values
        col = self.column
        if field == "name":
            return compare(col(files.c.name), op, values)
        if field == PATH:
            return col(files.c.folder_path) == values[0]
        if field == FILE_TYPE:
            return versions.c.file_type == values[0]
        if field == "type":
            return sa.or_(*(_type_clause(v) for v in values))
        if field == "tags":
            tags = tuple(str(v) for v in values)
            return has_any_tag(tags) if self.indexed else tagged_with_any(tags)
        if field == "createdAt":
            return compare(col(self.created), op, values)
        if field == "updatedAt":
            return compare(col(self.updated), op, values)
        if field == "size":
            return compare(col(versions.c.size), op, values)
        if field in ("width", "height"):
            return compare_integer(col(versions.c[field]), op, float(values[0]))
        if field == "format":
            return col(versions.c.mime).in_(mimes_of_formats(values))
        if field in ("private", "published", "transparency"):
            column = {
                "private": versions.c.is_private_file,
                "published": versions.c.is_published,
                "transparency": versions.c.has_alpha,
            }[field]
            return sa.func.coalesce(column, sa.false()) == bool(values[0])
        if field.startswith("embeddedMetadata."):
            key = field.removeprefix("embeddedMetadata.")
            return _custom_metadata(key, op, values, self.dialect, versions.c.embedded_metadata)
        return _custom_metadata(field.removeprefix("customMetadata."), op, values, self.dialect)


def _type_clause(kind: object) -> Any:
    if kind == "file":
        return versions.c.is_current
    if kind == "file-version":
        return sa.not_(versions.c.is_current)
    return sa.false()


def _custom_metadata(
    key: str, op: str, values: tuple[Any, ...], dialect: str, document: Any = None
) -> Any:
    """A condition on one key of a JSON column: customMetadata, or embeddedMetadata (no index:
    each is read from the version rows the rest of the query leaves)."""
    document = versions.c.custom_metadata if document is None else document
    element = document[key]
    clauses = []
    for value in values:
        if isinstance(value, bool):
            column = _when_json_type(dialect, key, "boolean", element.as_boolean(), document)
        elif isinstance(value, int | float):
            column = _when_json_type(dialect, key, "number", element.as_float(), document)
        else:
            column = element.as_string()
            if dialect == "sqlite" and op in ("=", "in") and _quoted_in_json(value):
                # A search through files whose version rows are each read anyway (no index
                # serves a metadata key) skips the JSON parse on all but the rows whose text
                # holds the value, quotes included (bench/search_100k.py's custom metadata:
                # 24 -> 20 ms of SQLite). The same rows match: see _quoted_in_json.
                held = sa.func.instr(sa.type_coerce(document, sa.Text), f'"{value}"') > 0
                clauses.append(sa.and_(held, column == value))
                continue
        clauses.append(compare(column, "=" if op == "in" else op, (value,)))
    return sa.or_(*clauses)


CUSTOM = "customMetadata."
_values = version_custom_values


def custom_candidates(c: Condition, dialect: str) -> list[sa.Select[Any]] | None:
    """Selects of version ids from version_custom_values that together hold every version the
    condition matches (as _custom_metadata compares the JSON, on this dialect), and maybe
    others: they narrow a search, and the JSON is compared on each version they give
    (except where custom_rows_decide: then the last select's, kind "x", only).
    None when the rows cannot serve the condition (negated, a field without rows, a prefix
    of a number or a boolean).

    What the JSON comparison matches, per value compared (a field missing or null never
    matches, and a field without rows has none):
    - a string: SQLite compares the value's text (`5` for the number 5, `1` for true, the JSON
      of an array), PostgreSQL the text of `->>` (`true`, the array's JSON): the strings that
      compare so, and every value of another kind unless no other kind can read as the value
      (an equality with a plain word, see _string_only);
    - a number: PostgreSQL compares JSON numbers only; SQLite casts whatever is there to a
      number (a string's leading digits, or 0; a boolean is 1 or 0): the numbers and booleans
      that compare so, and every string and other value;
    - a boolean: PostgreSQL compares JSON booleans only; SQLite as a number (as above).
    A value of kind "x" (no value kept) is always among them.
    """
    if not custom_servable(c):
        return None
    # Built once per condition: building them costs more than counting their rows. Keyed by
    # each value's type too (True == 1 == 1.0 as keys, and they select different rows).
    typed = tuple((type(v).__name__, v) for v in c.values)
    return list(_custom_candidates(c.field.removeprefix(CUSTOM), c.op, typed, dialect))


@functools.lru_cache(maxsize=256)
def _custom_candidates(
    field: str, op: str, typed: tuple[tuple[str, Any], ...], dialect: str
) -> tuple[sa.Select[Any], ...]:
    op = "=" if op == "in" else op
    postgresql = dialect == "postgresql"
    kinds_always: set[str] = {"x"}
    selects = []
    for _, value in typed:
        if isinstance(value, str) and op == ":":
            # The range alone: every string the prefix matches is in it (the JSON comparison
            # adds LIKE, case-insensitive on SQLite, to the same range).
            string = _values.c.string
            where: Any = sa.and_(
                _values.c.kind == "s", string >= value, string < value + "\U0010ffff"
            )
            kinds_always |= {"n", "b"}
        elif isinstance(value, str):
            where = sa.and_(_values.c.kind == "s", compare(_values.c.string, op, (value,)))
            if not (op == "=" and _string_only(value)):
                kinds_always |= {"n", "b"}
        else:
            kinds: tuple[str, ...] = ("b",) if isinstance(value, bool) else ("n",)
            if not postgresql:
                kinds, kinds_always = ("n", "b"), kinds_always | {"s"}
            number = float(value)
            where = sa.and_(_values.c.kind.in_(kinds), compare(_values.c.number, op, (number,)))
        selects.append(where)
    selects.append(_values.c.kind.in_(sorted(kinds_always)))
    return tuple(
        sa.select(_values.c.version_id).where(_values.c.field == field, where) for where in selects
    )


def custom_rows_decide(c: Condition) -> bool:
    """Whether the value rows alone decide which versions match the condition, except the
    rows of kind "x" (values not kept), the last select of custom_candidates: an equality
    with plain words (_string_only), which only a JSON string of the same text matches on
    either dialect, and such a string has a row of kind "s" with that text. The rows are
    kept with every write of the metadata (and `mediavault fsck` compares them with it)."""
    return (
        custom_servable(c)
        and c.op in ("=", "in")
        and all(isinstance(v, str) and _string_only(v) for v in c.values)
    )


def custom_servable(c: Condition) -> bool:
    """Whether version_custom_values can serve the condition (custom_candidates)."""
    if c.negated or not c.field.startswith(CUSTOM):
        return False
    if not CUSTOM_FIELD.fullmatch(c.field.removeprefix(CUSTOM)):
        return False
    return c.op != ":" or all(isinstance(v, str) for v in c.values)


def _string_only(value: str) -> bool:
    """Whether only a JSON string can equal `value` when compared as text on either dialect:
    a plain word (_quoted_in_json: no number, array or object reads as it, nor SQLite's 1 and
    0 for booleans), not PostgreSQL's text of a boolean or a null, and short enough to have
    been kept (a longer string is of kind "x")."""
    return (
        _quoted_in_json(value)
        and value.lower() not in ("true", "false", "null")
        and len(value.encode()) <= CUSTOM_STRING_BYTES
    )


def _quoted_in_json(value: object) -> bool:
    """Whether every document that `CAST(json_extract(doc, key) AS TEXT) = value` matches holds
    `"value"` in its text: a string of printable ASCII without the characters a serializer
    escapes (`"`, `\\`, and `/` by some; json.dumps, SQLAlchemy's on SQLite, escapes nothing
    else), that no number or boolean reads as (`5` matches the number 5, `1` true: those are
    not quoted in the text), and no array or object (`[1,2]` matches the array, as SQLite
    writes it)."""
    if not isinstance(value, str) or not value:
        return False
    if not all(" " <= c <= "~" and c not in '"\\/[]{}' for c in value):
        return False
    numeric = all(c in "0123456789+-.eE" for c in value)
    return not numeric and value.lstrip("+-").lower() not in ("inf", "infinity", "nan")


def _when_json_type(
    dialect: str, key: str, json_type: str, column: Any, document: Any = versions.c.custom_metadata
) -> Any:
    """PostgreSQL refuses to cast a JSON string to a number: compare only values of the type.
    (SQLite compares mixed types without error, and a string never equals a number there.)"""
    if dialect != "postgresql":
        return column
    kind = sa.func.json_typeof(document.op("->")(key))
    return sa.case((kind == json_type, column), else_=None)


class FolderFields(Fields):
    def condition(self, c: Condition) -> Any:
        if c.field == "name":
            return compare(folders.c.name, c.op, c.values)
        if c.field == "type":
            return sa.true() if "folder" in c.values else sa.false()
        if c.field == "createdAt":
            return compare(folders.c.created_at, c.op, c.values)
        if c.field == "updatedAt":
            return compare(folders.c.updated_at, c.op, c.values)
        return sa.false()  # folders have no tags, sizes, formats or metadata


def mimes_of_formats(formats: tuple[Any, ...]) -> list[str]:
    return [m for v in formats for m in _mimes_of(str(v))]


def _mimes_of(fmt: str) -> list[str]:
    fmt = fmt.lower().lstrip(".")
    guessed = mimetypes.guess_type(f"x.{fmt}")[0]
    candidates = {f"image/{fmt}", f"video/{fmt}", f"audio/{fmt}", f"application/{fmt}"}
    if guessed:
        candidates.add(guessed)
    return sorted(candidates)
