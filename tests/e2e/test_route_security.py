"""Every management route needs the private key: enumerated from the app's own route table."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from litestar import Litestar

from mediavault.api.app import create_app
from mediavault.config import Settings
from tests.support import TEST_KEY, ServerProcess

# Open by design: liveness and readiness, metrics (MEDIAVAULT_METRICS_TOKEN closes them:
# tests/e2e/test_operations.py), the API's own documentation (and its assets), and delivery
# (private files there need a signed URL instead). The web console (/, /ui) signs in with a
# session instead of the key: tests/e2e/test_web_console.py checks its refusals.
PUBLIC = re.compile(r"^/$|^/(healthz|readyz|metrics|docs|media|ui)(/|$)")
SAMPLE_ID = "0123456789abcdef01234567"


def management_routes(tmp_path: Path) -> list[tuple[str, str]]:
    settings = Settings.from_env({}, data=tmp_path, private_key=TEST_KEY, public_key="public_t")
    app = create_app(settings)
    while not isinstance(app, Litestar):  # unwrap the ASGI middlewares around it
        app = app.app  # type: ignore[attr-defined]
    routes = []
    for route in app.routes:
        if PUBLIC.match(route.path):
            continue
        path = re.sub(r"\{[^}]+\}", SAMPLE_ID, route.path)
        routes += [
            (method, path) for method in sorted(route.methods) if method not in ("HEAD", "OPTIONS")
        ]
    return routes


def test_every_management_route_refuses_requests_without_the_key(
    server: ServerProcess, tmp_path: Path
) -> None:
    routes = management_routes(tmp_path)
    assert ("POST", "/api/v1/files/upload") in routes
    assert ("PUT", f"/v1/files/{SAMPLE_ID}/versions/{SAMPLE_ID}/restore") in routes
    assert len(routes) >= 20
    for method, path in routes:
        anonymous = httpx.request(method, server.base_url + path)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.json()["message"] == "Your request does not contain private API key."
        wrong = httpx.request(method, server.base_url + path, auth=("private_wrong", ""))
        assert wrong.status_code == 403, (method, path)
