"""The searchQuery grammar: a table of valid queries and their trees, and of invalid ones."""

from __future__ import annotations

import pytest

from mediavault.domain.search import And, Condition, Or, mentions_type, parse
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
        ('"embeddedMetadata.Make" = "Canon"', "embeddedMetadata fields are not extracted"),
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
