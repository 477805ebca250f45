"""The console's pure helpers: session cookies, CSRF tokens, same-origin media URLs, packaging."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mediavault.domain.models import ContentInfo, File, FileVersion, Version, VersionMetadata
from mediavault.domain.signing import is_valid_signature
from mediavault.web import session, views

REPO = Path(__file__).resolve().parents[2]
KEY = "private_test_key_0123456789"
SECRET = session.session_secret(KEY)
NOW = 1_800_000_000.0


def test_a_cookie_issued_reads_back_as_its_session_until_it_expires() -> None:
    cookie, issued = session.issue(SECRET, NOW, hours=12)
    assert session.read(SECRET, cookie, NOW + 3600) == issued
    assert issued.expires_at == NOW + 12 * 3600
    assert session.read(SECRET, cookie, issued.expires_at) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c.replace(c.split(".")[1], "9999999999"),  # a later expiry
        lambda c: "0" * 32 + c[32:],  # another session id
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # another signature
        lambda c: c + ".x",
        lambda c: "",
    ],
)
def test_a_tampered_cookie_is_no_session(tamper: object) -> None:
    cookie, _ = session.issue(SECRET, NOW, hours=12)
    assert session.read(SECRET, tamper(cookie), NOW) is None  # type: ignore[operator]


def test_a_cookie_from_another_private_key_is_no_session() -> None:
    cookie, _ = session.issue(session.session_secret("private_other"), NOW, hours=12)
    assert session.read(SECRET, cookie, NOW) is None


def test_the_secret_is_derived_from_the_key_so_every_worker_agrees() -> None:
    assert session.session_secret(KEY) == SECRET
    assert session.session_secret(KEY + "x") != SECRET
    assert KEY.encode() not in SECRET


def test_csrf_tokens_belong_to_one_session() -> None:
    _, mine = session.issue(SECRET, NOW, hours=1)
    _, other = session.issue(SECRET, NOW, hours=1)
    token = session.csrf_token(SECRET, mine)
    assert session.csrf_ok(SECRET, mine, token)
    assert not session.csrf_ok(SECRET, other, token)
    assert not session.csrf_ok(SECRET, mine, None)
    assert not session.csrf_ok(SECRET, mine, "")
    assert not session.csrf_ok(SECRET, mine, token.upper())


def test_the_key_check_ignores_surrounding_blanks_only() -> None:
    assert session.key_matches(KEY, f"  {KEY}\n")
    assert not session.key_matches(KEY, KEY[:-1])
    assert not session.key_matches(KEY, "")


def _item(private: bool, current: bool = True) -> FileVersion:
    file = File("f" * 24, "cat photo.jpg", "/animals/", 1, 1, 2)
    content = ContentInfo("d" * 64, 2048, "image/jpeg", "image", 10, 20)
    metadata = VersionMetadata(is_private_file=private)
    return FileVersion(file, Version("v" * 24, file.id, 1, content, metadata, "tok", current, 1, 2))


def test_media_urls_are_same_origin_and_signed_for_private_files() -> None:
    urls = views.MediaUrls("/media", KEY, NOW)
    public = urls.thumbnail(_item(private=False))
    assert public == "/media/animals/cat%20photo.jpg?updatedAt=2&tr=n-ik_ml_thumbnail"
    signed = urls.thumbnail(_item(private=True, current=False))
    relative, _, signature_part = signed.partition("&ik-t=")
    expires, _, signature = signature_part.partition("&ik-s=")
    # What the delivery route checks: the URL after the prefix, ik-t and ik-s left out.
    assert is_valid_signature(KEY, relative[len("/media/") :], signature, expires, NOW)
    # The same URL for a whole hour, so the browser's cached thumbnail serves every page view.
    assert views.MediaUrls("/media", KEY, NOW + 1).thumbnail(_item(True, False)) == signed


def test_breadcrumbs_name_every_folder_on_the_way() -> None:
    assert [(c.name, c.path) for c in views.breadcrumbs("/a/b/")] == [
        ("Library", "/"),
        ("a", "/a/"),
        ("b", "/a/b/"),
    ]
    assert [c.path for c in views.breadcrumbs("/")] == ["/"]


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (2048, "2.0 KB"), (5 * 1024**3, "5.0 GB")],
)
def test_sizes_read_like_a_person_writes_them(size: int, shown: str) -> None:
    assert views.human_size(size) == shown


def test_the_wheel_ships_every_template_and_static_file() -> None:
    """setuptools' package-data globs must cover the console's files, or `pip install .`
    serves a console without pages."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mediavault"]
    package = REPO / "src" / "mediavault"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    web = package / "web"
    needed = {p for p in (web / "templates").rglob("*") if p.is_file()}
    needed |= {p for p in (web / "static").rglob("*") if p.is_file()}
    assert needed, "no console files found"
    assert needed <= shipped, sorted(str(p) for p in needed - shipped)
