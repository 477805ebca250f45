"""The searchQuery grammar: a table of valid queries and their trees, and of invalid ones."""

from __future__ import annotations

import pytest

from mediavault.domain.search import (
    MAX_CONDITIONS,
    MAX_LIST_VALUES,
    MAX_QUERY_CHARS,
    And,
    Condition,
    Or,
    mentions_type,
    parse,
)
from mediavault.errors import InvalidRequest

NOW = 1_700_000_000_000
DAY = 86_400_000


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('name = "cat.jpg"', Condition("name", "=", ("cat.jpg",))),
        ("name = 'cat.jpg'", Condition("name", "=", ("cat.jpg",))),
        ('name : "ca"', Condition("name", ":", ("ca",))),
        ('name != "a"', Condition("name", "=", ("a",), negated=True)),
        ('name NOT = "a"', Condition("name", "=", ("a",), negated=True)),
        ('name not in ["a", "b"]', Condition("name", "in", ("a", "b"), negated=True)),
        ('NAME = "x"', Condition("name", "=", ("x",))),
        ('name = "say \\"hi\\""', Condition("name", "=", ('say "hi"',))),
        ('type = "file-version"', Condition("type", "=", ("file-version",))),
        ('tags IN ["a","b"]', Condition("tags", "in", ("a", "b"))),
        ('createdAt > "7d"', Condition("createdAt", ">", (NOW - 7 * DAY,))),
        ('updatedAt <= "2w"', Condition("updatedAt", "<=", (NOW - 14 * DAY,))),
        ('createdAt >= "3h"', Condition("createdAt", ">=", (NOW - 3 * 3_600_000,))),
        ('createdAt < "1y"', Condition("createdAt", "<", (NOW - 365 * DAY,))),
        ('createdAt > "2024-03-12T09:41:07.318Z"', Condition("createdAt", ">", (1710236467318,))),
        (
            '"embeddedMetadata.Make" = "Canon"',
            Condition("embeddedMetadata.Make", "=", ("Canon",)),
        ),
        (
            '"embeddedMetadata.DateTimeOriginal" >= "2024-03-12T09:41:07.318Z"',
            Condition("embeddedMetadata.DateTimeOriginal", ">=", ("2024-03-12T09:41:07.318Z",)),
        ),
        (
            '"embeddedMetadata.DateTimeOriginal" < "1d"',
            Condition("embeddedMetadata.DateTimeOriginal", "<", ("2023-11-13T22:13:20.000Z",)),
        ),
        ('createdAt > "2024-03-12"', Condition("createdAt", ">", (1710201600000,))),
        ('size > "1mb"', Condition("size", ">", (1024 * 1024,))),
        ('size < "1.5 KB"', Condition("size", "<", (1536,))),
        ("size >= 100", Condition("size", ">=", (100,))),
        ("width < 100.5", Condition("width", "<", (100.5,))),
        ('format = "png"', Condition("format", "=", ("png",))),
        ("private = true", Condition("private", "=", (True,))),
        ("transparency = FALSE", Condition("transparency", "=", (False,))),
        ('"customMetadata.brand" = "acme"', Condition("customMetadata.brand", "=", ("acme",))),
        ('"customMetadata.price" > 10', Condition("customMetadata.price", ">", (10.0,))),
        ("customMetadata.on = true", Condition("customMetadata.on", "=", (True,))),
        (
            'name = "a" AND tags IN ["x"]',
            And((Condition("name", "=", ("a",)), Condition("tags", "in", ("x",)))),
        ),
        (
            'name = "a" or name = "b" and size > 1',
            Or(
                (
                    Condition("name", "=", ("a",)),
                    And((Condition("name", "=", ("b",)), Condition("size", ">", (1,)))),
                )
            ),
        ),
        (
            '(name = "a" OR name = "b") AND private = false',
            And(
                (
                    Or((Condition("name", "=", ("a",)), Condition("name", "=", ("b",)))),
                    Condition("private", "=", (False,)),
                )
            ),
        ),
    ],
)
def test_valid_queries(text: str, tree: object) -> None:
    assert parse(text, NOW) == tree


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the query is empty"),
        ('name = "a" AND', "unexpected input"),
        ('name == "a"', "unexpected input"),
        ('(name = "a"', "unexpected input"),
        ('name = "a")', "unexpected input"),
        ('name = "a" name = "b"', "unexpected input"),
        ("name = cat", "must have a string value"),
        ('colour = "red"', "colour is not a searchable field"),
        ('type = "image"', 'type field must be one of "file", "file-version", "folder"'),
        ('name > "a"', "name field does not support the > operator"),
        ('tags : "a"', "tags field does not support the : operator"),
        ("size IN [1, 2]", "size field does not support the IN operator"),
        ('name NOT > "a"', "NOT can only be used with = or IN"),
        (
            "createdAt > 7d",
            "createdAt field must have a valid date value. Make sure the value is enclosed within quotes",
        ),
        ('createdAt > "last week"', "createdAt field must have a valid date value"),
        ('size > "big"', "size field must have a valid size value"),
        ('width > "wide"', "width field must have a numeric value"),
        ('private = "yes"', "private field must have a value of true or false"),
        ('"embeddedMetadata." = "Canon"', "embeddedMetadata needs a field name"),
        ('"embeddedMetadata.DateTimeOriginal" > "soon"', "must have a valid date value"),
        ('"customMetadata." = "x"', "customMetadata needs a field name"),
        ("tags IN []", "the list of values for tags is empty"),
    ],
)
def test_invalid_queries(text: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse(text, NOW)
    message = error.value.message
    assert message.startswith("Invalid search query - ")
    assert reason in message
    assert message.endswith("Please refer to the documentation for syntax specification.")


def test_only_queries_naming_a_type_reach_versions() -> None:
    assert not mentions_type(parse('name = "a" AND size > 1', NOW))
    assert mentions_type(parse('name = "a" AND (size > 1 OR type = "file-version")', NOW))


def _ors(count: int) -> str:
    return " OR ".join(f'name = "n{i}"' for i in range(count))


def _nested(depth: int) -> str:
    query = "size > 1"
    for _ in range(depth - 1):
        query = f"(size > 1 OR {query})"
    return query


def _values(count: int) -> str:
    return ", ".join(f'"t{i}"' for i in range(count))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('name = "' + "a" * MAX_QUERY_CHARS + '"', "the query is longer than 4096 characters"),
        (_ors(MAX_CONDITIONS + 1), "the query has more than 100 conditions"),
        (" OR ".join(["size=1"] * 400), "the query has more than 100 conditions"),
        (_nested(MAX_CONDITIONS + 1), "the query has more than 100 conditions"),
        (
            f"tags IN [{_values(MAX_LIST_VALUES + 1)}]",
            "the list of values for tags has more than 100 values",
        ),
        ('size > "99999999999999999999tb"', "size field must have a size value below 8 EiB"),
        ("size > 9223372036854775808", "size field must have a size value below 8 EiB"),
        ('size > "' + "9" * 400 + '.5kb"', "size field must have a size value below 8 EiB"),
        ("width > 1e400", "width field must have a finite numeric value"),
        ("height < nan", "height field must have a finite numeric value"),
        ("width > inf", "width field must have a finite numeric value"),
        (
            '"customMetadata.price" > ' + "9" * 400,
            "customMetadata.price field must have a finite numeric value",
        ),
        (
            'createdAt > "99999999999d"',
            "createdAt field must have a date between the years 1 and 9999",
        ),
        (
            'updatedAt < "99999999999999999999y"',
            "updatedAt field must have a date between the years 1 and 9999",
        ),
        (
            'createdAt > "9999999999999999h"',
            "createdAt field must have a date between the years 1 and 9999",
        ),
    ],
)
def test_queries_beyond_the_limits_are_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse(text, NOW)
    assert error.value.message == (
        f"Invalid search query - {reason}. Please refer to the documentation for syntax specification."
    )


@pytest.mark.parametrize(
    "text",
    [
        'name = "' + "a" * (MAX_QUERY_CHARS - 9) + '"',  # exactly the longest query
        _ors(MAX_CONDITIONS),
        _nested(MAX_CONDITIONS),
        f"tags IN [{_values(MAX_LIST_VALUES)}]",
        "(" * 2000 + 'name = "a"' + ")" * 2000,  # parentheses alone add no condition
        "size <= 9223372036854775807",
        'size < "8388607tb"',
        "width > 99999999999999999999999999999",
        'createdAt > "2000y"',
        'createdAt > "0001-01-01T00:00:00+01:00"',
    ],
)
def test_queries_at_the_limits_are_valid(text: str) -> None:
    assert len(text) <= MAX_QUERY_CHARS
    parse(text, NOW)


def test_sizes_are_exact() -> None:
    assert parse('size > "1.1kb"', NOW) == Condition("size", ">", (1126,))
    assert parse('size > "8388607tb"', NOW) == Condition("size", ">", (8388607 * 1024**4,))
