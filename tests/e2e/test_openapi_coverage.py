"""Every operation of ImageKit's OpenAPI document has a route here, or a written reason why not.

The operations (method and path template) are kept in tests/imagekit_operations.json, so this
runs in a fresh clone; when ImageKit's document is at hand (../shared/spec beside the checkout,
or MEDIAVAULT_IMAGEKIT_OPENAPI), a second test checks the list against it (skipped without it,
except in CI). Regenerate the list with `python -m tests.e2e.test_openapi_coverage`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from litestar import Litestar

from mediavault.api.app import create_app
from mediavault.config import Settings
from tests.support import REPO, TEST_KEY

OPERATIONS = REPO / "tests" / "imagekit_operations.json"
IMAGEKIT_OPENAPI = Path(
    os.environ.get("MEDIAVAULT_IMAGEKIT_OPENAPI")
    or REPO.parent / "shared" / "spec" / "imagekit-openapi-v1.0.0.yaml"
)
METHODS = ("get", "put", "post", "patch", "delete")
# Operations deliberately not served, each with its reason (docs/decisions.md says more).
# Empty today: every operation of ImageKit's document v1.0.0 has a route. An entry here must
# name an operation of the list and one that has no route (both are checked), so the list
# cannot go stale. Example of what would belong: an AI extension that needs a model.
NOT_SERVED: dict[tuple[str, str], str] = {}


def operations_of(document: dict[str, object]) -> list[dict[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    found = []
    for path, item in paths.items():
        for method in METHODS:
            if method in item:
                operation_id = item[method].get("operationId", "")
                found.append({"method": method.upper(), "path": path, "operationId": operation_id})
    return sorted(found, key=lambda o: (o["path"], o["method"]))


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path template with every parameter written `{}`) of the app's routes."""
    settings = Settings.from_env({}, data=tmp_path, private_key=TEST_KEY, public_key="public_t")
    app = create_app(settings)
    while not isinstance(app, Litestar):  # unwrap the ASGI middlewares around it
        app = app.app  # type: ignore[attr-defined]
    served = set()
    for route in app.routes:
        for method in route.methods:
            served.add((method, _template(route.path)))
    return served


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_imagekit_operation_has_a_route(tmp_path: Path) -> None:
    operations = json.loads(OPERATIONS.read_text())
    assert len(operations) >= 30
    served = served_routes(tmp_path)
    listed = {(o["method"], o["path"]) for o in operations}
    missing = [
        f"{o['method']} {o['path']} ({o['operationId']})"
        for o in operations
        if (o["method"], _template(o["path"])) not in served
        and (o["method"], o["path"]) not in NOT_SERVED
    ]
    assert missing == [], "ImageKit operations without a route (serve them or allow-list them)"
    for key, reason in NOT_SERVED.items():
        assert key in listed, f"{key} is not an operation of ImageKit's document"
        assert (key[0], _template(key[1])) not in served, (
            f"{key} is served: remove it from the list"
        )
        assert reason.strip(), f"{key} needs its reason"


def test_the_check_fails_for_an_operation_without_a_route(tmp_path: Path) -> None:
    served = served_routes(tmp_path)
    assert ("GET", "/v1/bulkJobs/{}") in served
    assert ("GET", _template("/v1/files/{fileId}/nowhere")) not in served


def test_the_list_of_operations_matches_imagekits_document() -> None:
    if not IMAGEKIT_OPENAPI.is_file():
        needed = (
            f"ImageKit's OpenAPI document, not found at {IMAGEKIT_OPENAPI}: "
            "set MEDIAVAULT_IMAGEKIT_OPENAPI to a copy of it (see README, Reliability)"
        )
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run this test; {needed}")
        pytest.skip(f"needs {needed}")
    document = yaml.safe_load(IMAGEKIT_OPENAPI.read_text())
    assert json.loads(OPERATIONS.read_text()) == operations_of(document), (
        "tests/imagekit_operations.json is stale: python -m tests.e2e.test_openapi_coverage"
    )


def test_the_readme_route_table_names_every_route(tmp_path: Path) -> None:
    """Each route's path (ImageKit's parameter names) is written in the README."""
    readme = (REPO / "README.md").read_text()
    written = {_template(p) for p in re.findall(r"(/[A-Za-z0-9_./{}-]+)", readme)}
    skipped = re.compile(r"^/(docs|ui|static)(/|$)|^/$")
    unlisted = sorted(
        {path for _, path in served_routes(tmp_path) if not skipped.match(path)} - written
    )
    assert unlisted == [], "\n".join(unlisted)


if __name__ == "__main__":
    OPERATIONS.write_text(
        json.dumps(operations_of(yaml.safe_load(IMAGEKIT_OPENAPI.read_text())), indent=1) + "\n"
    )
    print(f"wrote {OPERATIONS}")
