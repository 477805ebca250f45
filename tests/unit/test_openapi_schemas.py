"""Request schemas of the app's OpenAPI document admit only what the server accepts.

The fuzzing test sends schema-valid requests and requires them to be accepted (positive data
acceptance). These properties check the same promise field by field against the server's own
parsing, on more values, boundary ones included, than a fuzzing run reaches. Schemas are
judged by jsonschema_rs, the validator schemathesis uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediavault.api import forms, openapi
from mediavault.domain import names
from mediavault.errors import InvalidRequest
from mediavault.services.organize import _as_file_path

MAX = names.MAX_FILE_NAME_CHARS


# Bounded repetitions of Unicode classes compile large; schemathesis raises the limit likewise.
_REGEX_OPTIONS = jsonschema_rs.FancyRegexOptions(size_limit=150_000_000)


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator(schema, pattern_options=_REGEX_OPTIONS)


def _accepted(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except InvalidRequest:
        return False
    return True


def _rename_name(value: str) -> None:
    forms.required_string({"newFileName": value}, "newFileName")
    names.sanitize_file_name(value)


def _rename_path(value: str) -> None:
    forms.required_string({"filePath": value}, "filePath")
    _as_file_path(value)


def _upload_field(name: str) -> Callable[[str], None]:
    def parse(value: str) -> None:
        fields = {"fileName": "a.txt", name: value}
        target, _, _ = forms.upload_fields(fields)
        names.sanitize_file_name(target.file_name)
        names.normalize_folder(target.folder)

    return parse


def _values_of(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """Strings drawn from a schema's first pattern or enum; the validator judges the rest."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    pattern = schema.get("pattern") or schema["allOf"][0]["pattern"]
    # ASCII `\d`, as JSON Schema's regex dialect reads it; other classes stay Unicode.
    return st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True)


RENAME = openapi.RENAME.to_schema()["properties"]
UPLOAD = openapi.UPLOAD_FORM.to_schema()["properties"]
NEW_NAME = _validator(RENAME["newFileName"])

# Names at the edges of sanitize_file_name's rules, and whether the server takes them.
NAME_EDGES = [
    ("a", True),
    ("x" * MAX, True),
    ("x" * (MAX + 1), False),
    (" \t" + "x" * MAX + " \u3000", True),  # outer whitespace is stripped before counting
    ("x" + " " * (MAX - 2) + "y", True),
    ("x" + " " * (MAX - 1) + "y", False),
    ("...", False),
    (" . ", False),
    (". .", True),  # becomes "._."
    ("..a", True),
    ("", False),
    ("   ", False),
    ("\x1c\x1d", False),  # whitespace to Python, not to every regex engine
    ("\x1ca\x1f", True),
    ("a\x00b", False),
    ("\u00a0é\u00a0", True),
]


@pytest.mark.parametrize(("value", "accepted"), NAME_EDGES, ids=lambda v: repr(v)[:20])
def test_rename_name_edges(value: str, accepted: bool) -> None:
    assert _accepted(_rename_name, value) is accepted
    assert NEW_NAME.is_valid(value) is accepted


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=20))
def test_the_rename_name_schema_is_exactly_the_servers_rule(value: str) -> None:
    # Rename checks both ways: the schema admits a name if and only if the server takes it.
    assert NEW_NAME.is_valid(value) is _accepted(_rename_name, value)


CASES = {
    "rename newFileName": (RENAME["newFileName"], _rename_name),
    "rename filePath": (RENAME["filePath"], _rename_path),
    **{
        f"upload {field}": (schema, _upload_field(field))
        for field, schema in UPLOAD.items()
        if field not in ("file", "customMetadata")  # bytes; keys depend on declared fields
    },
}
VALIDATORS = {case: _validator(schema) for case, (schema, _) in CASES.items()}


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_value_a_schema_admits_is_accepted(case: str, data: st.DataObject) -> None:
    schema, parse = CASES[case]
    value = data.draw(_values_of(schema).filter(VALIDATORS[case].is_valid))
    assert _accepted(parse, value), f"{case}={value!r}"


def test_the_upload_schemas_say_which_fields_are_not_supported() -> None:
    for field in ("extensions", "transformation", "checks"):
        validator = _validator(UPLOAD[field])
        assert validator.is_valid(" [] ") and validator.is_valid("")
        assert not validator.is_valid('[{"name": "remove-bg"}]')
        assert not _accepted(_upload_field(field), '[{"name": "remove-bg"}]')
