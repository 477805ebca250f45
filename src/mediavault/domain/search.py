"""ImageKit's searchQuery language (spec §6.5), parsed with a real grammar into a typed tree.

    name = "cat.jpg" AND (tags IN ["pets", "sale"] OR size > "1mb")
    type = "file-version" AND createdAt > "7d"
    "customMetadata.brand" = "acme"

Parsing checks the syntax and the meaning: each field takes certain operators and values, and
values are converted here (dates to epoch milliseconds, "1mb" to bytes), so that the SQL
translation deals only in well-typed conditions.

Limits (docs/decisions.md, "Limits"): a query of at most MAX_QUERY_CHARS characters, at most
MAX_CONDITIONS conditions and MAX_LIST_VALUES values per IN list; sizes within a signed 64-bit
integer, numbers finite, dates between the years 1 and 9999. Beyond them a query is a 400 here,
never an overflow, a recursion error or a database's "expression tree is too large" later.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from mediavault.errors import InvalidRequest

Value = str | float | bool | int


@dataclass(frozen=True)
class Condition:
    """`field op values`; `negated` for NOT = and NOT IN. IN carries several values."""

    field: str  # canonical: name, type, tags, createdAt, ..., customMetadata.<key>
    op: str  # "=", "!=", ">", ">=", "<", "<=", ":", "in"
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class And:
    parts: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Query, ...]


Query = Condition | And | Or

EQUALITY = frozenset({"=", "!="})
ORDERING = frozenset({"=", "!=", ">", ">=", "<", "<="})
TYPES = frozenset({"file", "file-version", "folder"})
_FIELDS = {
    "name": (EQUALITY | {":"}, "string"),
    "type": (EQUALITY, "type"),
    "tags": (EQUALITY, "string"),
    "createdat": (ORDERING, "date"),
    "updatedat": (ORDERING, "date"),
    "size": (ORDERING, "size"),
    "width": (ORDERING, "number"),
    "height": (ORDERING, "number"),
    "format": (EQUALITY, "string"),
    "private": (EQUALITY, "boolean"),
    "published": (EQUALITY, "boolean"),
    "transparency": (EQUALITY, "boolean"),
}
_CANONICAL = {
    "createdat": "createdAt",
    "updatedat": "updatedAt",
}
_RELATIVE = re.compile(r"(\d+)\s*([hdwmy])", re.IGNORECASE)
_RELATIVE_MS = {"h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "m": 2_592_000_000}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}

# Far above any query a person writes, and far below what the SQL engines refuse: SQLite
# nests `a OR b OR ...` one level per term and stops at depth 1000; PostgreSQL's stack
# (max_stack_depth, 2 MB) and Python's recursion limit (the tree is built and compiled
# recursively; 600 nested conditions already overflow it) come next.
MAX_QUERY_CHARS = 4096
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 100
MAX_SIZE_BYTES = 2**63 - 1  # BIGINT, the size column's type on both databases
MIN_DATE_MS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp() * 1000)


def invalid_query(reason: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid search query - {reason}. Please refer to the documentation for syntax "
        "specification."
    )


def parse(text: str, now_ms: int) -> Query:
    """The query as a tree of conditions; raises InvalidRequest with ImageKit's message shape."""
    if not text.strip():
        raise invalid_query("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise invalid_query(f"the query is longer than {MAX_QUERY_CHARS} characters")
    # The grammar (lark) is loaded by the first search, not by every worker at start.
    from mediavault.domain.search_grammar import parsed

    return parsed(text, now_ms)


def mentions_type(query: Query) -> bool:
    if isinstance(query, Condition):
        return query.field == "type"
    return any(mentions_type(p) for p in query.parts)


def _size(field: str, text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise invalid_query(f"{field} field must have a valid size value such as 1mb")
    # Decimal, not float: exact for "1.5kb", and no float overflow on a thousand digits.
    size = int(Decimal(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    if size > MAX_SIZE_BYTES:
        raise invalid_query(f"{field} field must have a size value below 8 EiB")
    return size


def _number(field: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise invalid_query(f"{field} field must have a numeric value") from None
    # "nan", "inf" and numbers beyond a double's range would compare differently per database.
    if not math.isfinite(number):
        raise invalid_query(f"{field} field must have a finite numeric value")
    return number


# embeddedMetadata fields that hold dates ("2019-10-16T19:01:03.000Z"): a query's date value
# (ISO 8601 or relative, "1y") becomes that text, whose order is the dates' order.
EMBEDDED_DATES = frozenset({"DateTimeOriginal", "CreateDate", "ModifyDate"})


def _field_rules(raw: str) -> tuple[str, frozenset[str], str]:
    if raw.startswith("customMetadata."):
        key = raw.removeprefix("customMetadata.")
        if not key:
            raise invalid_query("customMetadata needs a field name, as customMetadata.<name>")
        return raw, ORDERING | {":"}, "custom"
    if raw.startswith("embeddedMetadata."):
        key = raw.removeprefix("embeddedMetadata.")
        if not key:
            raise invalid_query("embeddedMetadata needs a field name, as embeddedMetadata.<name>")
        # Dates are stored as ISO 8601 text (media/metadata.py): compared as that text.
        return raw, ORDERING | {":"}, "embedded_date" if key in EMBEDDED_DATES else "custom"
    rules = _FIELDS.get(raw.lower())
    if rules is None:
        raise invalid_query(f"{raw} is not a searchable field")
    operators, kind = rules
    return _CANONICAL.get(raw.lower(), raw.lower()), frozenset(operators), kind
