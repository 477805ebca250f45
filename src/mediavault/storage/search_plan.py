"""Which index drives a list or search of current files, chosen from counts the indexes give.

A search sorted by one column and cut by `limit` can be answered two ways:

- in sort order ("order"): walk the sort column's index and keep the rows that match, until
  `skip + limit` matched. Cheap when many rows match (a tenth of the library matching means
  reading ten rows per result), hopeless when almost none do.
- from the filter ("filter"): read the few rows the filter's indexes point at (an OR reads
  each term's index and takes the union), then sort them. Cheap when few rows match, hopeless
  when half the library does.

SQL engines choose between these with selectivity estimates, and here they are often wrong:
SQLite has no statistics on value ranges, assumes an indexed equality matches about ten rows,
and plans as if a `LIMIT` did not end a scan early; PostgreSQL has no statistics for a JSON
field or the ids a subquery returns; neither serves an OR across two tables from indexes. So
the choice is made here, from exact counts of what each indexed condition matches, capped so
that counting costs no more than reading the index entries a cheap answer would read anyway
(one statement, index entries only), and then forced: on SQLite by leaving every other
condition unindexed (`+column`, mediavault.storage.search_sql), on both engines by the shape of
the statements.

"order" is one statement on SQLite, where the plan is forced: every condition unindexed, the
sort column's index is the only way in, and the scan ends at the limit. PostgreSQL takes no
hints; there "order" runs as windows of the sort column (ranges, each four times wider than
the last), so that each statement's obvious plan is a walk of its window on that index.
Every condition of the search is still evaluated in full on every row, so each plan returns
exactly the rows, and the order, of the plain statement; only the work done to find them
changes. tests/e2e/test_search_plans.py runs every plan against the plain statement.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mediavault.domain.search import And, Condition, Or, Query
from mediavault.storage.search_sql import (
    CUSTOM,
    PATH,
    VersionFields,
    compare,
    compare_integer,
    compile_query,
    custom_candidates,
    custom_rows_decide,
    custom_servable,
    mimes_of_formats,
)
from mediavault.storage.tables import (
    FILES_BY_ID_INDEX,
    VERSIONS_BY_ID_INDEX,
    files,
    version_tags,
    versions,
)

PLANS = ("plain", "filter", "order", "windows")  # "windows": "order" as on PostgreSQL
_FILES_FIELDS = {
    "name": files.c.name,
    PATH: files.c.folder_path,
    "createdAt": files.c.created_at,
    "updatedAt": files.c.updated_at,
}
_VERSIONS_FIELDS = {
    "size": versions.c.size,
    "width": versions.c.width,
    "height": versions.c.height,
    "format": versions.c.mime,
}
# Sort keys of current files whose column is never NULL (a window walk needs every row to sort
# between two values; NULLs sort first on SQLite and last on PostgreSQL).
SORT_COLUMNS = {
    "NAME": files.c.name,
    "CREATED": files.c.created_at,
    "UPDATED": files.c.updated_at,
    "SIZE": versions.c.size,
}
FIRST_WINDOW = 256
MAX_WINDOW = 2**62  # an OFFSET both engines take (skip may be up to 2**62)
FILE_COUNT_SECONDS = 30.0

Statement = Callable[[list[Any], int], sa.Select[Any]]
"""Builds the statement for extra WHERE conditions and a row limit."""


@dataclass(frozen=True)
class Search:
    """A search of current files: the whole filter (list parameters included) and the sort."""

    filter: Query | None
    sort_key: str
    descending: bool
    skip: int
    limit: int


@dataclass(frozen=True)
class Plan:
    name: str  # one of PLANS
    driver: Query | None = None  # for "filter": the conditions whose indexes are read
    matches: float = math.inf  # at most this many current versions match
    files: int = 0  # about this many files in the library
    dialect: str = ""  # the database's (custom metadata's rows are read per dialect)


def choose(db: sa.Connection, search: Search, forced: str | None = None) -> Plan:
    """The cheaper plan, from capped counts of the rows each indexed condition matches;
    `forced` (one of PLANS) runs another where it applies (tests compare them)."""
    if search.filter is None:
        return Plan("plain")
    windowed = search.sort_key in SORT_COLUMNS
    wanted = search.skip + search.limit
    file_count = _file_count(db)
    dialect = db.dialect.name
    # Reading E matched rows and sorting them costs about as much per row as looking at one
    # row in sort order; in sort order, wanted * N / E rows are looked at. They cross at
    # E = sqrt(wanted * N).
    threshold = max(wanted, math.isqrt(wanted * file_count))
    cap = min(threshold, file_count) + 1
    atoms = sorted({c for c in _conditions(search.filter) if _indexed(c)}, key=repr)
    counts: dict[Condition, int] = {}
    if atoms and threshold >= file_count and forced is None:
        # Everything asked fits in the answer: no count can make a walk the cheaper plan.
        counts = dict.fromkeys(atoms, 0)
    elif atoms:
        row = db.execute(
            sa.select(
                *(
                    sa.select(sa.func.count())
                    .select_from(_count_source(atom, cap, dialect).subquery())
                    .scalar_subquery()
                    for atom in atoms
                )
            )
        ).one()
        counts = dict(zip(atoms, (int(v) for v in row), strict=True))
    estimate, driver = _estimate(search.filter, counts)
    name = "plain"
    if forced is not None:
        if forced == "filter" and driver is not None:
            name = "filter"
        elif forced in ("order", "windows") and windowed:
            name = forced
    elif driver is not None and estimate <= threshold:
        name = "filter"
    elif windowed:
        name = "order"
    return Plan(name, driver, estimate, file_count, dialect)


def run_filter(plan: Plan, statement: Statement, skip: int, limit: int) -> sa.Select[Any]:
    """The statement driven by the plan's indexed conditions; every condition still filters."""
    assert plan.driver is not None
    driving = _driver_condition(plan.driver, plan.dialect)
    if any(c.field.startswith(CUSTOM) for c in _conditions(plan.driver)):
        # Custom metadata's rows give a superset of the versions that match: the driver's
        # own conditions compared on each (the caller leaves them out when they are the
        # whole search), unless the rows alone decide.
        driving = sa.and_(driving, _decided(plan.driver, plan.dialect))
    select = statement([driving], limit).offset(skip)
    if _by_version_ids(plan.driver):
        # Each version given is looked up by its id, and its file by the file's: from the
        # covering indexes (tables.py), which SQLite's planner passes over for the primary
        # keys' unless told.
        select = select.with_hint(versions, f"INDEXED BY {VERSIONS_BY_ID_INDEX}", "sqlite")
        select = select.with_hint(files, f"INDEXED BY {FILES_BY_ID_INDEX}", "sqlite")
    return select


def _by_version_ids(driver: Query) -> bool:
    """Whether _driver_condition drives by version ids: an OR, tags, custom metadata."""
    if isinstance(driver, Condition):
        return driver.field == "tags" or custom_servable(driver)
    return isinstance(driver, Or)


def _decided(driver: Query, dialect: str) -> Any:
    """Which of the versions the driver's indexes give match it: where custom metadata's
    rows decide alone (custom_rows_decide), by those rows, with the JSON compared only on
    the versions whose value was not kept; everywhere else by comparing the JSON."""
    if isinstance(driver, Or):
        return sa.or_(*(_decided(part, dialect) for part in driver.parts))
    assert isinstance(driver, Condition)
    compared = compile_query(
        driver, VersionFields(current_only=True, dialect=dialect, indexed=False)
    )
    if not custom_rows_decide(driver):
        return compared
    candidates = custom_candidates(driver, dialect)
    assert candidates is not None
    *deciding, unkept = candidates
    return sa.or_(
        versions.c.id.in_(sa.union_all(*deciding) if len(deciding) > 1 else deciding[0]),
        sa.and_(versions.c.id.in_(unkept), compared),
    )


def run_order(
    db: sa.Connection,
    search: Search,
    plan: Plan,
    statement: Statement,
    fetch: Callable[[sa.Select[Any]], Sequence[Any]],
) -> Sequence[Any]:
    """The rows in sort order, driven by the sort column's index."""
    assert search.filter is not None
    column = SORT_COLUMNS[search.sort_key]
    bounds = _sort_bounds(search.filter, search.sort_key)
    if column.table is versions:
        bounds.append(versions.c.is_current)
    if db.dialect.name == "sqlite" and plan.name == "order":
        # Every other condition is unindexed (`+column`): the sort column's index is the only
        # way in that avoids sorting everything, and the scan ends at the limit.
        return fetch(statement(bounds, search.limit).offset(search.skip))
    return _windows(db, search, plan, column, bounds, statement, fetch)


def _windows(
    db: sa.Connection,
    search: Search,
    plan: Plan,
    column: Any,
    bounds: list[Any],
    statement: Statement,
    fetch: Callable[[sa.Select[Any]], Sequence[Any]],
) -> list[Any]:
    """Windows of the sort column, in order, until enough rows matched; then skip and limit.

    PostgreSQL plans with statistics and no hints: a range of the sort column makes walking
    its index the obvious plan for each window. The first window is as wide as the matches
    counted say is needed (each statement stops at its limit, so a wider window costs only
    its edge's lookup); each next one four times wider."""
    descending = search.descending
    direction = sa.desc if descending else sa.asc
    wanted = search.skip + search.limit
    rows: list[Any] = []
    start: tuple[Any, bool] | None = None  # (value, inclusive) where the next window begins
    guess = 0.0
    if 0 < plan.matches < math.inf:
        guess = 2 * wanted * plan.files / plan.matches
    width = int(min(max(FIRST_WINDOW, 2 * wanted, guess), MAX_WINDOW))
    while len(rows) < wanted:
        ahead = [] if start is None else [_beyond(column, *start, descending)]
        edge = db.execute(
            sa.select(column)
            .select_from(column.table)
            .where(*bounds, *ahead)
            .order_by(direction(column))
            .offset(width)
            .limit(1)
        ).scalar()
        window = list(ahead)
        if edge is None:
            last = True
        elif start is not None and edge == start[0]:
            # More than `width` rows share one value: a window of that value alone.
            window.append(_before(column, edge, True, descending))
            start, last = (edge, False), False
        else:
            window.append(_before(column, edge, False, descending))
            start, last = (edge, True), False
        rows.extend(fetch(statement([*bounds, *window], wanted - len(rows))))
        if last:
            break
        width = min(4 * width, MAX_WINDOW)
    return rows[search.skip : wanted]


def _beyond(column: Any, value: Any, inclusive: bool, descending: bool) -> Any:
    """The rows at or after `value` in sort order."""
    if descending:
        return column <= value if inclusive else column < value
    return column >= value if inclusive else column > value


def _before(column: Any, value: Any, inclusive: bool, descending: bool) -> Any:
    """The rows before (or at) `value` in sort order."""
    if descending:
        return column >= value if inclusive else column > value
    return column <= value if inclusive else column < value


def _sort_bounds(query: Query, sort_key: str) -> list[Any]:
    """Top-level conditions that the sort column's index serves along with the window: a range
    on the sort column itself, and the folder when files are sorted by creation (the index
    on (folder_path, created_at))."""
    column = SORT_COLUMNS[sort_key]
    fields = VersionFields(current_only=True)
    bounds = []
    for part in query.parts if isinstance(query, And) else (query,):
        if not isinstance(part, Condition) or part.negated or part.op == "in":
            continue
        served = _FILES_FIELDS.get(part.field, _VERSIONS_FIELDS.get(part.field))
        if served is column or (part.field == PATH and sort_key == "CREATED"):
            bounds.append(fields.condition(part))
    return bounds


def _conditions(query: Query) -> list[Condition]:
    if isinstance(query, Condition):
        return [query]
    return [c for part in query.parts for c in _conditions(part)]


def _estimate(query: Query, counts: dict[Condition, int]) -> tuple[float, Query | None]:
    """At most how many current versions match, and the conditions whose indexes find them."""
    if isinstance(query, Condition):
        if query in counts:
            return counts[query], query
        return math.inf, None
    estimates = [_estimate(part, counts) for part in query.parts]
    if isinstance(query, And):
        return min(estimates, key=lambda e: e[0])
    if any(driver is None for _, driver in estimates):
        return math.inf, None
    drivers = tuple(driver for _, driver in estimates if driver is not None)
    return sum(count for count, _ in estimates), Or(drivers)


def _indexed(c: Condition) -> bool:
    """Whether an index finds the current versions the condition matches (custom metadata:
    a superset of them)."""
    if c.field.startswith(CUSTOM):
        return custom_servable(c)
    return not c.negated and (
        c.field in _FILES_FIELDS or c.field in _VERSIONS_FIELDS or c.field == "tags"
    )


def _count_source(c: Condition, cap: int, dialect: str) -> sa.Select[Any]:
    """At most `cap` index entries for what an indexed condition matches: an upper bound on
    the current versions it matches."""
    candidates = custom_candidates(c, dialect)
    if candidates is not None:
        union = sa.union_all(*candidates).subquery()
        return sa.select(sa.literal(1)).select_from(union).limit(cap)
    if c.field in _FILES_FIELDS:
        where: Any = _indexed_condition(c)
        table: Any = files
    elif c.field in _VERSIONS_FIELDS:
        where, table = sa.and_(versions.c.is_current, _indexed_condition(c)), versions
    else:
        where = version_tags.c.tag.in_([str(v) for v in c.values])
        table = version_tags
    return sa.select(sa.literal(1)).select_from(table).where(where).limit(cap)


def _indexed_condition(c: Condition) -> Any:
    if c.field == "format":
        return versions.c.mime.in_(mimes_of_formats(c.values))
    if c.field in ("width", "height"):
        return compare_integer(versions.c[c.field], c.op, float(c.values[0]))
    column = _FILES_FIELDS.get(c.field, _VERSIONS_FIELDS.get(c.field))
    return compare(column, "=" if c.field == PATH else c.op, c.values)


def _driver_condition(driver: Query, dialect: str) -> Any:
    """The indexed condition that drives the statement."""
    if isinstance(driver, Condition):
        candidates = custom_candidates(driver, dialect)
        if candidates is not None:
            return versions.c.id.in_(sa.union_all(*candidates))
        if driver.field == "tags":
            tagged = sa.select(version_tags.c.version_id).where(
                version_tags.c.tag.in_([str(v) for v in driver.values])
            )
            return versions.c.id.in_(tagged)
        if driver.field in _VERSIONS_FIELDS:
            return sa.and_(versions.c.is_current, _indexed_condition(driver))
        return _indexed_condition(driver)
    return versions.c.id.in_(sa.union_all(*_driver_ids(driver, dialect)))


def _driver_ids(driver: Query, dialect: str) -> list[sa.Select[Any]]:
    """Selects of version ids, together a superset of what the driver's conditions match."""
    if isinstance(driver, Or):
        return [select for part in driver.parts for select in _driver_ids(part, dialect)]
    assert isinstance(driver, Condition)
    candidates = custom_candidates(driver, dialect)
    if candidates is not None:
        return candidates
    if driver.field == "tags":
        return [
            sa.select(version_tags.c.version_id).where(
                version_tags.c.tag.in_([str(v) for v in driver.values])
            )
        ]
    if driver.field in _VERSIONS_FIELDS:
        return [sa.select(versions.c.id).where(versions.c.is_current, _indexed_condition(driver))]
    return [
        sa.select(versions.c.id)
        .join_from(files, versions, versions.c.file_id == files.c.id)
        .where(versions.c.is_current, _indexed_condition(driver))
    ]


_file_counts: dict[str, tuple[float, int]] = {}
_file_counts_lock = threading.Lock()


def _file_count(db: sa.Connection) -> int:
    """About how many files the library holds, asked at most every FILE_COUNT_SECONDS per
    database: it only weighs the plans, never decides a result."""
    key = db.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _file_counts_lock:
        cached = _file_counts.get(key)
    if cached is not None and now - cached[0] < FILE_COUNT_SECONDS:
        return cached[1]
    # Estimates, never a count (a scan of every file): PostgreSQL's own (kept by autovacuum);
    # on SQLite the largest rowid, one index step, which deletions leave too high at worst.
    estimate = {
        "postgresql": "SELECT reltuples FROM pg_class WHERE oid = 'files'::regclass",
        "sqlite": "SELECT max(rowid) FROM files",
    }.get(db.dialect.name)
    count = int(db.scalar(sa.text(estimate)) or 0) if estimate else 0
    if count <= 0:
        count = int(db.scalar(sa.select(sa.func.count()).select_from(files)) or 0)
    with _file_counts_lock:
        _file_counts[key] = (now, count)
    return count


def conditions_of(parts: Sequence[Query | None]) -> Query | None:
    """The AND of the parts that are there."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    flat: list[Query] = []
    for p in present:
        flat.extend(p.parts if isinstance(p, And) else (p,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))
