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
from typing import Any

from lark import Lark, Token, Transformer, Tree, UnexpectedInput
from lark.exceptions import VisitError

from mediavault.errors import InvalidRequest

GRAMMAR = r"""
    ?start: or_expr
    ?or_expr: and_expr (_OR and_expr)*
    ?and_expr: atom (_AND atom)*
    ?atom: "(" or_expr ")"
         | field OPERATOR value          -> compare
         | field _NOT OPERATOR value     -> compare_not
         | field _IN value_list          -> in_list
         | field _NOT _IN value_list     -> not_in_list
    field: NAME | STRING
    ?value: STRING | NUMBER | BOOLEAN | BAREWORD
    value_list: "[" [value ("," value)*] "]"
    OPERATOR: ">=" | "<=" | "!=" | "=" | ">" | "<" | ":"
    _AND.2: /AND\b/i
    _OR.2: /OR\b/i
    _NOT.2: /NOT\b/i
    _IN.2: /IN\b/i
    BOOLEAN.2: /(true|false)\b/i
    NAME: /[A-Za-z_][A-Za-z0-9_.\-]*/
    STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
    NUMBER: /-?\d+(\.\d+)?(?![\w.\-])/
    BAREWORD: /[\w.\-:+]+/
    %ignore /\s+/
"""

_parser = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)

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
_CONDITION_RULES = frozenset({"compare", "compare_not", "in_list", "not_in_list"})


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
    try:
        tree = _parser.parse(text)
    except UnexpectedInput as exc:
        raise invalid_query(f"unexpected input at position {exc.column}") from None
    if _count_conditions(tree) > MAX_CONDITIONS:
        raise invalid_query(f"the query has more than {MAX_CONDITIONS} conditions")
    try:
        return _Builder(now_ms).transform(tree)
    except VisitError as exc:
        # Lark wraps what the builder raises; the builder only raises our own errors.
        raise exc.orig_exc from None


def _count_conditions(tree: Tree[Token]) -> int:
    # Counted before the (recursive) transformer runs, and without recursion of its own.
    count = 0
    stack: list[Tree[Token] | Token] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Tree):
            count += node.data in _CONDITION_RULES
            stack.extend(node.children)
    return count


def mentions_type(query: Query) -> bool:
    if isinstance(query, Condition):
        return query.field == "type"
    return any(mentions_type(p) for p in query.parts)


class _Builder(Transformer[Token, Query]):
    def __init__(self, now_ms: int) -> None:
        super().__init__()
        self._now_ms = now_ms

    def or_expr(self, parts: list[Query]) -> Query:
        return Or(tuple(parts))

    def and_expr(self, parts: list[Query]) -> Query:
        return And(tuple(parts))

    def field(self, items: list[Token]) -> str:
        token = items[0]
        return _unquote(token) if token.type == "STRING" else str(token)

    def value_list(self, items: list[Token]) -> list[Token]:
        return items

    def compare(self, items: list[Any]) -> Condition:
        field, op, value = items
        return self._condition(field, str(op), [value], negated=False)

    def compare_not(self, items: list[Any]) -> Condition:
        field, op, value = items
        if str(op) != "=":
            raise invalid_query(f"NOT can only be used with = or IN, not with {op}")
        return self._condition(field, "=", [value], negated=True)

    def in_list(self, items: list[Any]) -> Condition:
        return self._condition(items[0], "in", items[1], negated=False)

    def not_in_list(self, items: list[Any]) -> Condition:
        return self._condition(items[0], "in", items[1], negated=True)

    def _condition(self, raw_field: str, op: str, tokens: list[Token], negated: bool) -> Condition:
        field, operators, kind = _field_rules(raw_field)
        if op == "!=":
            op, negated = "=", True
        if op != "in" and op not in operators:
            raise invalid_query(f"{field} field does not support the {op} operator")
        if op == "in" and kind not in ("string", "type", "custom", "embedded_date"):
            raise invalid_query(f"{field} field does not support the IN operator")
        if op == "in" and not tokens:
            raise invalid_query(f"the list of values for {field} is empty")
        if len(tokens) > MAX_LIST_VALUES:
            raise invalid_query(
                f"the list of values for {field} has more than {MAX_LIST_VALUES} values"
            )
        values = tuple(self._value(field, kind, token) for token in tokens)
        return Condition(field, op, values, negated)

    def _value(self, field: str, kind: str, token: Token) -> Value:
        text = _unquote(token) if token.type == "STRING" else str(token)
        if kind in ("string", "type"):
            if token.type != "STRING":
                raise invalid_query(
                    f"{field} field must have a string value. "
                    "Make sure the value is enclosed within quotes"
                )
            if kind == "type" and text not in TYPES:
                raise invalid_query('type field must be one of "file", "file-version", "folder"')
            return text
        if kind == "date":
            return self._date(field, token, text)
        if kind == "embedded_date":
            moment = datetime.fromtimestamp(self._date(field, token, text) / 1000, UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        if kind == "size":
            return _size(field, text)
        if kind == "number":
            return _number(field, text)
        if kind == "boolean":
            if token.type != "BOOLEAN" and text.lower() not in ("true", "false"):
                raise invalid_query(f"{field} field must have a value of true or false")
            return text.lower() == "true"
        # custom metadata: the value keeps the type it was written with
        if token.type == "NUMBER":
            return _number(field, text)
        if token.type == "BOOLEAN":
            return text.lower() == "true"
        return text

    def _date(self, field: str, token: Token, text: str) -> int:
        error = invalid_query(
            f"{field} field must have a valid date value. "
            "Make sure the value is enclosed within quotes"
        )
        if token.type != "STRING":
            raise error
        relative = _RELATIVE.fullmatch(text.strip())
        if relative:
            amount, unit = int(relative.group(1)), relative.group(2).lower()
            span = amount * 31_536_000_000 if unit == "y" else amount * _RELATIVE_MS[unit]
            if self._now_ms - span < MIN_DATE_MS:
                raise invalid_query(f"{field} field must have a date between the years 1 and 9999")
            return self._now_ms - span
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise error from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)


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


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
