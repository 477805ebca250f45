"""The `help` of every error body points at a page that exists and covers every status."""

from __future__ import annotations

import re

from mediavault.api.errors import HELP, STATUS
from tests.support import REPO


def test_help_names_a_document_of_this_repository() -> None:
    named = re.search(r"docs/[\w-]+\.md", HELP)
    assert named is not None, HELP
    assert (REPO / named.group()).is_file()


def test_the_errors_page_lists_every_status_the_server_maps() -> None:
    page = (REPO / "docs" / "errors.md").read_text()
    listed = {int(s) for s in re.findall(r"^\| (\d{3}) \|", page, re.MULTILINE)}
    assert set(STATUS.values()) <= listed
    assert HELP in page
