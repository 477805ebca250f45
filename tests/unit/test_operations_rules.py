"""Operations without a server: route templates, request ids, settings rules, JSON lines."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from mediavault.api.observability import UNMATCHED, ObservedRequests, imagekit_template
from mediavault.config import Settings
from mediavault.ops import metrics
from mediavault.ops.logs import REQUEST_ID, JsonFormatter
from mediavault.services.readiness import ReadinessProbe
from mediavault.wiring import build_stores, prepare_data_folder


@pytest.mark.parametrize(
    ("litestar", "imagekit"),
    [
        ("/v1/files/{file_id:str}/versions", "/v1/files/{fileId}/versions"),
        (
            "/v1/files/{file_id:str}/versions/{version_id:str}/restore",
            "/v1/files/{fileId}/versions/{versionId}/restore",
        ),
        ("/v1/trash/{fileId:str}/restore", "/v1/trash/{fileId}/restore"),
        ("/healthz", "/healthz"),
    ],
)
def test_litestar_templates_are_spelled_as_imagekit_does(litestar: str, imagekit: str) -> None:
    assert imagekit_template(litestar) == imagekit


def run(app: Any, headers: list[tuple[bytes, bytes]], **scope: Any) -> tuple[Any, list[Any]]:
    """One request through the middleware; (the scope the app saw, the messages sent)."""
    seen: dict[str, Any] = {}
    sent: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen["scope"] = scope
        seen["request_id"] = REQUEST_ID.get()
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        await send({"type": "http.response.body", "body": b"678"})

    bodies = iter([{"type": "http.request", "body": b"abc", "more_body": True},
                   {"type": "http.request", "body": b"defg", "more_body": False}])  # fmt: skip

    async def receive() -> Any:
        return next(bodies)

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = app(inner)
    full = {"type": "http", "method": "POST", "path": "/x", "headers": headers, **scope}
    asyncio.run(middleware(full, receive, send))
    return seen, sent


def observed(inner: Any) -> ObservedRequests:
    return ObservedRequests(inner, log_requests=False, delivery_route="/media/{filePath}")


def returned_id(sent: list[Any]) -> bytes:
    headers = dict(sent[0]["headers"])
    assert headers[b"x-request-id"] == headers[b"x-ik-requestid"]
    return bytes(headers[b"x-request-id"])


@pytest.mark.parametrize(
    ("incoming", "honoured"),
    [
        (b"3f2a9c1e-4b7d-4e2a-9f00-1c2d3e4f5a6b", True),
        (b"trace:abc.def_1", True),
        (b"x" * 128, True),
        (b"x" * 129, False),
        (b"with space", False),
        (b"new\r\nline", False),
        (b"", False),
        ("caf\u00e9".encode("latin-1"), False),
    ],
)
def test_a_sane_incoming_request_id_is_honoured_and_any_other_replaced(
    incoming: bytes, honoured: bool
) -> None:
    seen, sent = run(observed, [(b"x-request-id", incoming)])
    answered = returned_id(sent)
    assert (answered == incoming) is honoured
    if not honoured:
        assert len(answered) == 24 and answered.isalnum()
    assert seen["request_id"] == answered.decode("latin-1")  # what the request's logs carry
    assert REQUEST_ID.get() is None  # and only while the request runs


def test_requests_are_counted_under_their_template_with_their_bytes() -> None:
    route = "/api/v1/files/upload"
    labels = (route, "POST", "201")
    before = metrics.REQUESTS.labels(*labels)._value.get()
    uploaded = metrics.UPLOAD_BYTES._value.get()
    run(observed, [], path_template=route)
    metrics.TALLY.flush()  # as every second, and before a scrape
    assert metrics.REQUESTS.labels(*labels)._value.get() == before + 1
    assert metrics.UPLOAD_BYTES._value.get() == uploaded + len(b"abcdefg")
    delivered = metrics.DELIVERY_BYTES._value.get()
    run(observed, [], **{"mediavault.route": "/media/{filePath}"})
    metrics.TALLY.flush()
    assert metrics.DELIVERY_BYTES._value.get() == delivered + len(b"12345678")
    unmatched = metrics.REQUESTS.labels(UNMATCHED, "POST", "201")._value.get()
    run(observed, [], path="/random/path/1")
    metrics.TALLY.flush()
    assert metrics.REQUESTS.labels(UNMATCHED, "POST", "201")._value.get() == unmatched + 1


def test_a_flushed_tally_equals_what_observe_would_have_recorded() -> None:
    durations = [0.0005, 0.001, 0.0011, 0.02, 0.3, 0.3, 7.0, 45.0]
    tally = metrics.RequestTally()
    for seconds in durations:
        tally.count("/tally-a", "GET", 200, seconds)
        metrics.LATENCY.labels("/tally-b").observe(seconds)
    tally.flush()
    tallied = {
        (s.name, s.labels.get("le")): s.value
        for m in metrics.LATENCY.collect()
        for s in m.samples
        if s.labels.get("route") == "/tally-a" and not s.name.endswith("_created")
    }
    observed = {
        (s.name, s.labels.get("le")): s.value
        for m in metrics.LATENCY.collect()
        for s in m.samples
        if s.labels.get("route") == "/tally-b" and not s.name.endswith("_created")
    }
    assert (
        tallied == observed
        and tallied[("mediavault_http_request_duration_seconds_count", None)] == 8
    )
    assert metrics.REQUESTS.labels("/tally-a", "GET", "200")._value.get() == len(durations)


def test_default_settings_have_no_problems_and_bad_ones_are_named() -> None:
    defaults = Settings.from_env({})
    assert defaults.problems() == []
    bad = dataclasses.replace(
        defaults,
        port=0,
        log_format="xml",
        shutdown_grace_seconds=0,
        max_fields=0,
        trash_days=-1,
        database_url="mysql://x/y",
        blob_url="ftp://host/x",
        webhook_url="hook.example/x",
        metrics_token="has a space",
    )
    problems = "\n".join(bad.problems())
    for name in [
        "MEDIAVAULT_PORT",
        "MEDIAVAULT_LOG_FORMAT must be text or json, got 'xml'",
        "MEDIAVAULT_SHUTDOWN_GRACE_SECONDS must be from 1 to 1800 seconds",
        "MEDIAVAULT_MAX_FIELDS must be above 0",
        "MEDIAVAULT_TRASH_DAYS must be at least 0",
        "MEDIAVAULT_DATABASE_URL",
        "MEDIAVAULT_BLOB_URL",
        "MEDIAVAULT_WEBHOOK_URL must hold http(s) URLs, got 'hook.example/x'",
        "MEDIAVAULT_METRICS_TOKEN must be printable ASCII without spaces, got <hidden>",
    ]:
        assert name in problems
    assert "has a space" not in problems


def test_a_json_line_carries_the_request_id_and_the_traceback() -> None:
    record = logging.LogRecord("mediavault", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    token = REQUEST_ID.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "failed x" and line["level"] == "ERROR"
    assert line["requestId"] == "req-1"
    assert line["traceback"].startswith("Traceback") and "ValueError: boom" in line["traceback"]
    fields = logging.LogRecord("mediavault.requests", logging.INFO, "", 1, "request", (), None)
    fields.fields = {"route": "/healthz", "status": 200}
    assert json.loads(JsonFormatter().format(fields))["route"] == "/healthz"


def test_readiness_is_probed_at_most_once_per_ttl(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data")
    prepare_data_folder(settings)
    stores = build_stores(settings)
    try:
        probe = ReadinessProbe(stores, ttl=3600)
        first = probe.check()
        assert first.ready
        staging = settings.data / "blobs" / ".staging"
        staging.rename(staging.with_name("away"))
        staging.write_text("not a folder")
        assert probe.check() is first  # cached
        fresh = ReadinessProbe(stores, ttl=0).check()
        assert fresh.failed == ("blob store",)
        staging.unlink()
        staging.with_name("away").rename(staging)
        database = settings.data / "mediavault.sqlite3"
        database.rename(database.with_name("away.sqlite3"))
        assert ReadinessProbe(stores, ttl=0).check().failed == ("database",)
        assert not database.exists()  # the probe never creates an empty database
        database.with_name("away.sqlite3").rename(database)
        assert ReadinessProbe(stores, ttl=0).check().ready
    finally:
        stores.close()
