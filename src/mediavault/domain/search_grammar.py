"""The searchQuery grammar and the builder of its typed tree (domain/search.py holds the tree's
types and the fields' rules). Apart so that lark and the compiled grammar are loaded by the
first search, not by every worker at start (2.5 MB a worker)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lark import Lark, Token, Transformer, Tree, UnexpectedInput
from lark.exceptions import VisitError

from mediavault.domain.search import (
    _RELATIVE,
    _RELATIVE_MS,
    MAX_CONDITIONS,
    MAX_LIST_VALUES,
    MIN_DATE_MS,
    TYPES,
    And,
    Condition,
    Or,
    Query,
    Value,
    _field_rules,
    _number,
    _size,
    invalid_query,
)

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

_CONDITION_RULES = frozenset({"compare", "compare_not", "in_list", "not_in_list"})


def parsed(text: str, now_ms: int) -> Query:
    """search.parse's work once the text's length is checked: syntax, then meaning."""
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


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
