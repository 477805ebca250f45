"""Conditional writes: `If-Match` with the version a client last saw, `If-None-Match: *`.

A file's entity tag is the id of its current version, quoted: `"<versionId>"`. Only the
syntax and the comparison live here; the services compare inside the transaction that
changes the file, after locking it, so a concurrent change cannot slip in between.
"""

from __future__ import annotations

import re

from mediavault.errors import InvalidRequest, PreconditionFailed

ANY = "*"  # If-Match: * holds for any current version, as long as there is a file
_QUOTED_ID = re.compile(r'"([0-9a-fA-F]{24})"')
_IF_MATCH_FORM = 'It must be one quoted version id, such as "<versionId>", or *.'


def entity_tag(version_id: str) -> str:
    """The ETag of a file whose current version is `version_id`: strong, quoted."""
    return f'"{version_id}"'


def parse_if_match(value: str | None) -> str | None:
    """None: no condition; ANY; or the version id as the client sent it (any case).

    Weak tags (`W/"..."`) and lists are refused rather than read: a version id names exact
    content, so only a strong comparison with one expected version means anything here.
    """
    if value is None:
        return None
    text = value.strip()
    if text == ANY:
        return ANY
    match = _QUOTED_ID.fullmatch(text)
    if match is None:
        raise InvalidRequest(f"Your request contains invalid If-Match header. {_IF_MATCH_FORM}")
    return match[1]


def parse_if_none_match(value: str | None) -> bool:
    """True for `If-None-Match: *` (create only); writes take no other form."""
    if value is None:
        return False
    if value.strip() != ANY:
        raise InvalidRequest(
            "Your request contains invalid If-None-Match header. Writes accept only *."
        )
    return True


def ensure_expected_version(expected: str | None, current_version_id: str | None) -> None:
    """`current_version_id` None: there is no file (only an upload to a path can meet that)."""
    if expected is None:
        return
    if current_version_id is None:
        if expected == ANY:
            raise PreconditionFailed("No file exists at this path.")
        raise PreconditionFailed(
            f"The file has changed since version {expected}: no file exists at this path."
        )
    if expected != ANY and expected.lower() != current_version_id:
        raise PreconditionFailed(f"The file has changed since version {expected}.")


def ensure_absent(create_only: bool, current_version_id: str | None) -> None:
    if create_only and current_version_id is not None:
        raise PreconditionFailed(
            f"A file already exists at this path: its current version is {current_version_id}."
        )
