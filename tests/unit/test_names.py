from __future__ import annotations

import pytest

from mediavault.domain.names import normalize_folder, sanitize_file_name, unique_file_name
from mediavault.errors import InvalidRequest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cat.jpg", "cat.jpg"),
        ("my cat (1).jpg", "my_cat__1_.jpg"),
        ("../x", ".._x"),
        ("a/b\\c", "a_b_c"),
        ("naïve-ﬁle.png", "naïve-ﬁle.png"),
        ("e\u0301.txt", "é.txt"),
        ("٣.txt", "٣.txt"),
        ("tab\there", "tab_here"),
    ],
)
def test_file_names_keep_letters_marks_numerals_dots_and_dashes(raw: str, expected: str) -> None:
    assert sanitize_file_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", ".", "..", "...."])
def test_empty_or_dot_only_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        sanitize_file_name(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("a", "/a/"),
        ("/a/b/", "/a/b/"),
        ("a//b", "/a/b/"),
        ("a\\b", "/a/b/"),
        ("../..", "/__/__/"),
        ("a/./b", "/a/_/b/"),
        ("my folder", "/my_folder/"),
    ],
)
def test_folders_are_normalised_to_safe_segments(raw: str | None, expected: str) -> None:
    assert normalize_folder(raw) == expected


def test_folder_depth_is_limited() -> None:
    assert normalize_folder("/a" * 50).count("/") == 51
    with pytest.raises(InvalidRequest):
        normalize_folder("/a" * 51)


def test_unique_names_keep_the_extension_and_stay_within_the_limit() -> None:
    name = unique_file_name("photo.jpeg")
    assert name.startswith("photo_") and name.endswith(".jpeg") and len(name) == 22
    assert unique_file_name("README").startswith("README_")
    assert unique_file_name(".env").startswith(".env_")
    assert len(unique_file_name("x" * 250 + ".png")) == 255
    assert unique_file_name("a.jpg") != unique_file_name("a.jpg")
