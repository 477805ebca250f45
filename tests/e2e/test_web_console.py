"""The web console in a real browser (Debian's chromium, driven by Playwright) on a real server.

Without /usr/bin/chromium the browser tests are skipped, except where MEDIAVAULT_REQUIRE_BROWSER
is set (CI): there a missing browser is a broken setup and fails them. Each test keeps a
screenshot of every main page it saw, and of the page it ended on, in its pytest tmp dir; the
path is printed in the report of a failing test. MEDIAVAULT_UPDATE_SCREENSHOT=1 also refreshes
the README's picture of the file page (docs/console-file-page.png).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from PIL import Image

from mediavault.api.app import create_app
from mediavault.config import Settings
from tests.support import REPO, TEST_KEY, ServerProcess

# Debian's chromium; MEDIAVAULT_CHROMIUM names another (the skip-or-fail test points it nowhere).
CHROMIUM = Path(os.environ.get("MEDIAVAULT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REQUIRED = os.environ.get("MEDIAVAULT_REQUIRE_BROWSER", "").lower() in ("1", "true")
SCREENSHOT = REPO / "docs" / "console-file-page.png"
SAMPLE_ID = "0123456789abcdef01234567"


def png(color: tuple[int, int, int], size: tuple[int, int] = (320, 240), sun: bool = True) -> bytes:
    """A small landscape: sky of `color`, a hill, and a sun (or none)."""
    from PIL import ImageDraw

    width, height = size
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.ellipse((-width // 4, height * 2 // 3, width * 5 // 4, height * 2), fill=(60, 140, 70))
    if sun:
        r = height // 8
        draw.ellipse((width * 3 // 4 - r, height // 4 - r, width * 3 // 4 + r, height // 4 + r),
                     fill=(250, 210, 60))  # fmt: skip
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- the browser --------------------------------------------------------------------------------


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and any later test of the same worker that calls asyncio.run would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRED:
            pytest.fail(f"MEDIAVAULT_REQUIRE_BROWSER is set: the console must be tested; {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Shots:
    """Screenshots of the main pages a test saw, kept in its tmp dir."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder = page, folder
        self.count = 0

    def take(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    opened.shots = Shots(opened, tmp_path / "screenshots")
    opened.shots.folder.mkdir()
    yield opened
    try:
        opened.shots.take("last")
    finally:
        context.close()
    # Captured output is shown only for a failing test: that is when the path matters.
    print(f"screenshots of the pages this test saw: {opened.shots.folder}")


def sign_in(page: Any, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.base_url}/ui/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.shots.take("sign-in")
    page.get_by_label("Private key").fill(TEST_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


# -- the tour -------------------------------------------------------------------------------


def test_a_person_uploads_compares_restores_and_deletes_versions_then_signs_out(
    server: ServerProcess, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    p = page
    sign_in(p, server)
    folder = f"console{uuid.uuid4().hex[:8]}"

    # A folder of its own.
    p.get_by_label("New folder name").fill(folder)
    p.get_by_role("button", name="Create folder").click()
    expect(p.get_by_role("status")).to_have_text(f"Folder {folder} created.")
    p.get_by_role("link", name=folder, exact=True).click()
    expect(p.get_by_role("navigation", name="Breadcrumbs")).to_contain_text(folder)

    # Two files at once, a progress bar each.
    first, second = tmp_path / "one.png", tmp_path / "two.png"
    first.write_bytes(png((120, 170, 230), (600, 400)))
    second.write_bytes(png((30, 30, 200)))
    p.get_by_label("Upload files").set_input_files([first, second])
    uploads = p.get_by_role("list", name="Uploads")
    for name in ("one.png", "two.png"):
        expect(uploads.get_by_role("progressbar", name=name)).to_have_js_property("value", 100)
        row = uploads.get_by_role("listitem").filter(has_text=name)
        expect(row).to_contain_text("Uploaded as Version 1")
    p.shots.take("library-uploaded")
    p.get_by_role("link", name="Refresh the list").click()
    expect(p.get_by_role("link", name="two.png", exact=True)).to_be_visible()
    card = p.get_by_role("listitem").filter(has=p.get_by_role("link", name="one.png", exact=True))
    expect(card).to_contain_text("1 version")
    p.shots.take("library")

    # The file page; Version 2 from its file input, Version 3 dropped on the page.
    p.get_by_role("link", name="one.png", exact=True).click()
    expect(p.get_by_role("heading", level=1)).to_have_text("one.png")
    versions = p.get_by_role("list", name="Versions")
    version_2 = tmp_path / "one-v2.png"
    version_2.write_bytes(png((250, 160, 120), (600, 400)))
    p.get_by_label("Upload a new version").set_input_files(version_2)
    expect(versions.get_by_role("listitem").filter(has_text="Version 2")).to_be_visible()
    dropped = p.evaluate_handle(
        """(bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "v3.png", {type: "image/png"}));
            return transfer;
        }""",
        list(png((30, 40, 90), (300, 200), sun=False)),
    )
    p.dispatch_event("body", "drop", {"dataTransfer": dropped})
    expect(versions.get_by_role("listitem").filter(has_text="Version 3")).to_be_visible()
    expect(versions.get_by_role("listitem").first).to_contain_text("Version 3")  # newest first
    expect(versions.get_by_role("listitem")).to_have_count(3)
    current = versions.get_by_role("listitem").filter(has_text="Version 3")
    expect(current.get_by_role("button", name="Restore")).to_have_count(0)

    # Compare Version 1 with Version 3.
    compare = p.get_by_role("button", name="Compare")
    expect(compare).to_be_disabled()
    p.get_by_label("Select Version 1").check()
    expect(compare).to_be_disabled()
    p.get_by_label("Select Version 3").check()
    expect(compare).to_be_enabled()
    compare.click()
    comparison = p.get_by_role("region", name="Comparison")
    table = comparison.get_by_role("table")
    expect(table).to_contain_text("What changed")
    expect(table.get_by_role("row").filter(has_text="width")).to_contain_text("600")
    expect(table.get_by_role("row").filter(has_text="width")).to_contain_text("300")
    expect(comparison.get_by_role("slider")).to_be_visible()
    expect(comparison.get_by_role("img", name="Version 1")).to_be_visible()
    p.shots.take("comparison")
    if os.environ.get("MEDIAVAULT_UPDATE_SCREENSHOT") == "1":
        p.goto(p.url.split("#")[0])  # the top of the page, comparison included
        p.screenshot(path=SCREENSHOT, full_page=True)

    # Restore Version 1, after confirming.
    versions.get_by_role("listitem").filter(has_text="Version 1").get_by_role(
        "button", name="Restore"
    ).click()
    dialog = p.get_by_role("dialog")
    expect(dialog).to_contain_text("Restore Version 1?")
    dialog.get_by_role("button", name="Confirm").click()
    expect(p.get_by_role("status")).to_have_text("Version 1 restored; it is current.")
    restored = versions.get_by_role("listitem").filter(has_text="Version 1")
    expect(restored).to_contain_text("current")
    expect(restored.get_by_role("button", name="Restore")).to_have_count(0)

    # A pinned version cannot be deleted until it is unpinned.
    versions.get_by_role("listitem").filter(has_text="Version 2").get_by_role(
        "button", name="Pin"
    ).click()
    expect(p.get_by_role("status")).to_have_text("Pinned.")
    pinned = versions.get_by_role("listitem").filter(has_text="Version 2")
    expect(pinned).to_contain_text("pinned")
    pinned.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(p.get_by_role("alert")).to_contain_text("pinned")
    expect(versions.get_by_role("listitem")).to_have_count(3)
    versions.get_by_role("listitem").filter(has_text="Version 2").get_by_role(
        "button", name="Unpin"
    ).click()
    expect(p.get_by_role("status")).to_have_text("Unpinned.")

    # Tags and custom metadata (of a field the shared server declares); a bad one is shown.
    p.get_by_label("Tags", exact=True).fill("sky, hill")
    p.get_by_label("Custom metadata", exact=True).fill('{"brand": "acme"}')
    p.get_by_role("button", name="Save details").click()
    expect(p.get_by_role("status")).to_have_text("Tags and custom metadata saved.")
    expect(p.get_by_label("Tags", exact=True)).to_have_value("sky, hill")
    expect(p.get_by_label("Custom metadata", exact=True)).to_contain_text('"brand": "acme"')
    p.get_by_label("Custom metadata", exact=True).fill('{"brand": ')
    p.get_by_role("button", name="Save details").click()
    expect(p.get_by_role("alert")).to_have_text("Custom metadata must be a JSON object.")

    # Cancel keeps a version; Confirm deletes it.
    version_2_item = versions.get_by_role("listitem").filter(has_text="Version 2")
    version_2_item.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(versions.get_by_role("listitem")).to_have_count(3)
    version_2_item.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(p.get_by_role("status")).to_have_text("Version 2 deleted.")
    expect(versions.get_by_role("listitem")).to_have_count(2)
    expect(versions).not_to_contain_text("Version 2")
    expect(p.get_by_role("region", name="History")).to_contain_text("file-version.deleted")
    p.shots.take("file-page")

    # Search: a match, and a query the language refuses.
    p.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name=folder).click()
    search = p.get_by_label("Search")
    search.fill('name = "two.png"')
    search.press("Enter")
    expect(p.get_by_role("link", name="two.png", exact=True)).to_be_visible()
    expect(p.get_by_role("link", name="one.png", exact=True)).to_have_count(0)
    search = p.get_by_label("Search")
    search.fill("name = ")
    search.press("Enter")
    expect(p.get_by_role("alert")).to_contain_text("The search could not run")
    expect(p.get_by_role("alert")).to_contain_text("Invalid search query")
    p.shots.take("search-error")

    # Delete the folder with its files.
    p.get_by_role("link", name="Clear search").click()
    p.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Library").click()
    p.get_by_role("button", name=f"Delete folder {folder}").click()
    p.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    expect(p.get_by_role("status")).to_have_text(f"Folder /{folder}/ deleted.")
    expect(p.get_by_role("link", name=folder, exact=True)).to_have_count(0)

    # Sign out: the library asks for the key again.
    p.get_by_role("button", name="Sign out").click()
    expect(p.get_by_label("Private key")).to_be_visible()
    p.goto(f"{server.base_url}/ui/")
    expect(p.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_wrong_key_is_refused_on_the_sign_in_page(page: Any, server: ServerProcess) -> None:
    # `page` first: without a browser the test stops before the server starts.
    from playwright.sync_api import expect

    p = page
    p.goto(f"{server.base_url}/")
    p.get_by_label("Private key").fill("private_wrong")
    p.get_by_role("button", name="Sign in").click()
    expect(p.get_by_role("alert")).to_have_text("That is not this server's private key.")
    expect(p.get_by_role("button", name="Sign out")).to_have_count(0)


@pytest.mark.parametrize(("required", "outcome"), [(None, "1 skipped"), ("1", "1 error")])
def test_without_chromium_the_browser_tests_skip_except_where_required(
    tmp_path: Path, required: str | None, outcome: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDIAVAULT_REQUIRE_BROWSER"}
    env["MEDIAVAULT_CHROMIUM"] = str(tmp_path / "absent-chromium")
    if required:
        env["MEDIAVAULT_REQUIRE_BROWSER"] = required
    node = f"{Path(__file__).relative_to(REPO)}::test_a_wrong_key_is_refused_on_the_sign_in_page"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", node],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert outcome in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == (1 if required else 0)
    # Either way the output says what is missing and how to install it.
    assert "absent-chromium" in run.stdout and "apt-get install chromium" in run.stdout


# -- refusals, over plain HTTP ----------------------------------------------------------------


def console_routes(tmp_path: Path) -> list[tuple[str, str]]:
    settings = Settings.from_env({}, data=tmp_path, private_key=TEST_KEY, public_key="public_t")
    app = create_app(settings)
    while not isinstance(app, Litestar):  # unwrap the ASGI middlewares around it
        app = app.app  # type: ignore[attr-defined]
    routes = []
    for route in app.routes:
        if not route.path.startswith("/ui") or route.path.startswith("/ui/static"):
            continue
        path = re.sub(r"\{[^}]+\}", SAMPLE_ID, route.path)
        routes += [(m, path) for m in sorted(route.methods) if m not in ("HEAD", "OPTIONS")]
    return routes


def signed_in_client(server: ServerProcess) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.base_url)
    answer = client.post("/ui/sign-in", data={"key": TEST_KEY})
    assert answer.status_code == 303, answer.text
    page = client.get("/ui/")
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert match is not None
    return client, match.group(1)


def test_every_console_route_refuses_without_a_session(
    server: ServerProcess, tmp_path: Path
) -> None:
    routes = console_routes(tmp_path)
    assert ("POST", f"/ui/files/{SAMPLE_ID}/versions/{SAMPLE_ID}/restore") in routes
    assert len(routes) >= 12
    for method, path in routes:
        if path.startswith("/ui/sign-in"):
            continue
        answer = httpx.request(method, server.base_url + path, data={"csrf": "x"})
        if method == "GET":  # pages send the browser to sign in, and back afterwards
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/ui/sign-in?next=%2Fui"), path
        else:
            assert answer.status_code == 401, (method, path)
            assert answer.json() == {
                "message": "Sign in to the web console first.",
                "help": "See docs/errors.md in the mediavault documentation.",
            }


def test_every_console_change_refuses_a_missing_or_wrong_csrf_token(
    server: ServerProcess, tmp_path: Path
) -> None:
    client, csrf = signed_in_client(server)
    posts = [path for method, path in console_routes(tmp_path) if method == "POST"]
    posts = [path for path in posts if path != "/ui/sign-in"]
    for path in posts:
        for sent in ({}, {"csrf": "0" * 64}, {"csrf": csrf[:-1]}):
            answer = client.post(path, data=sent)
            assert answer.status_code == 403, (path, sent)
            assert answer.json()["message"].startswith("The console's CSRF token is missing")
    # The header works as well as the field, and a good token passes the check.
    assert client.post("/ui/upload-auth", headers={"x-csrf-token": csrf}).status_code == 200
    done = client.post("/ui/folders", data={"csrf": csrf, "name": "csrf-ok", "parent": "/"})
    assert done.status_code == 303 and "created" in done.headers["location"]


def test_the_session_cookie_is_http_only_strict_and_secure_over_https(
    server: ServerProcess,
) -> None:
    answer = httpx.post(f"{server.base_url}/ui/sign-in", data={"key": TEST_KEY})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Max-Age=43200" in cookie  # MEDIAVAULT_UI_SESSION_HOURS' default: 12
    assert "Secure" not in cookie
    proxied = httpx.post(
        f"{server.base_url}/ui/sign-in",
        data={"key": TEST_KEY},
        headers={"x-forwarded-proto": "https"},
    )
    assert "Secure" in proxied.headers["set-cookie"]
    forged = httpx.get(f"{server.base_url}/ui/", cookies={"mediavault_session": "a.9999999999.00"})
    assert forged.status_code == 303
    # Pages hold the CSRF token: not cached, not framed, nothing loaded from elsewhere.
    page = httpx.get(f"{server.base_url}/ui/sign-in")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_the_upload_proof_works_once_and_never_carries_the_private_key(
    server: ServerProcess,
) -> None:
    client, csrf = signed_in_client(server)
    proof = client.post("/ui/upload-auth", headers={"x-csrf-token": csrf}).json()
    assert set(proof) == {"publicKey", "token", "expire", "signature"}
    assert TEST_KEY not in str(proof)
    form = {"fileName": "proof.png", "folder": f"/p{uuid.uuid4().hex[:8]}", **proof}
    files = {"file": ("proof.png", png((1, 2, 3)), "image/png")}
    first = httpx.post(f"{server.base_url}/api/v1/files/upload", data=form, files=files)
    assert first.status_code == 200, first.text
    again = httpx.post(f"{server.base_url}/api/v1/files/upload", data=form, files=files)
    assert again.status_code == 400
    assert "has been used before" in again.json()["message"]


def test_the_api_docs_page_loads_nothing_from_outside(server: ServerProcess) -> None:
    for path in ("/docs", "/docs/swagger"):
        html = httpx.get(server.base_url + path).text
        assert "swagger-ui" in html
        assert not re.search(r"https?://|//[a-z]", html), html
        for asset in re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", html):
            assert asset.startswith("/docs/assets/"), asset
            assert httpx.get(server.base_url + asset).status_code == 200, asset
    assert httpx.get(f"{server.base_url}/docs/openapi.json").json()["paths"]
