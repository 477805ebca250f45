"""The fast path for the hottest reads answers exactly as the Litestar routes behind it do."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import ANY

import httpx
import pytest
from imagekitio import ImageKit
from litestar import Litestar
from litestar.testing import TestClient

from mediavault.api.app import create_app
from mediavault.api.errors import HELP, INTERNAL_ERROR
from tests.faults import execute_sql
from tests.server_log import LogCursor, LogRecord
from tests.support import TEST_KEY, ServerProcess, free_port

UNKNOWN_ID = "0123456789abcdef01234567"


def litestar_only(server: ServerProcess) -> Litestar:
    """The same app without the middlewares in front of Litestar, on the server's data."""
    app = create_app(server.settings)
    while not isinstance(app, Litestar):
        app = app.app  # type: ignore[attr-defined]
    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    process = ServerProcess(data=tmp_path_factory.mktemp("fast") / "data", port=free_port())
    yield process.start()
    process.stop()


def test_fast_reads_match_the_litestar_routes(server: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    first = client.files.upload(
        file=b"one", file_name="f.txt", tags=["a"], use_unique_file_name=False
    )
    client.files.upload(file=b"two", file_name="f.txt", use_unique_file_name=False)
    assert first.file_id and first.version_info and first.version_info.id
    paths = [
        f"/v1/files/{first.file_id}/details",
        f"/v1/files/{first.file_id}/versions",
        f"/v1/files/{first.file_id}/versions/{first.version_info.id}",
        # Errors fall through to Litestar on both sides.
        f"/v1/files/{UNKNOWN_ID}/details",
        f"/v1/files/{first.file_id}/versions/{UNKNOWN_ID}",
        "/v1/files/not-an-id/versions",
    ]
    with TestClient(app=litestar_only(server)) as reference:
        for path in paths:
            for auth in [(TEST_KEY, ""), (TEST_KEY, "do_not_set"), ("private_wrong", ""), None]:
                fast = httpx.get(server.base_url + path, auth=auth)
                slow = reference.get(path, auth=auth)
                assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), path
                assert fast.headers["content-type"] == slow.headers["content-type"]
                assert fast.headers["x-ik-requestid"]


def test_a_query_string_or_another_method_takes_the_full_route(server: ServerProcess) -> None:
    url = f"{server.base_url}/v1/files/{UNKNOWN_ID}/details"
    assert httpx.get(url + "?debug=1", auth=(TEST_KEY, "")).status_code == 400
    assert httpx.post(url, auth=(TEST_KEY, "")).status_code == 404
    assert httpx.get(url).status_code == 401


def test_a_file_path_with_an_encoded_slash_is_not_misread(
    server: ServerProcess, tmp_path: Path
) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/files/{UNKNOWN_ID}%2Fx/details", auth=(TEST_KEY, "")
    )
    assert response.status_code in (400, 404) and response.json()["message"]


def test_an_unexpected_failure_gets_the_same_answer_and_log_line_on_both_paths(
    tmp_path: Path,
) -> None:
    """A database error in the lookup: the fast path answers it as the Litestar route does."""
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        first = client.files.upload(file=b"one", file_name="f.txt", use_unique_file_name=False)
        assert first.file_id and first.version_info and first.version_info.id
        paths = [
            f"/v1/files/{first.file_id}/versions/{first.version_info.id}",
            f"/v1/files/{first.file_id}/versions",
            f"/v1/files/{first.file_id}/details",
        ]
        # "?&" holds no parameter, so the route takes it, but it is a query string, which the
        # fast path leaves to Litestar.
        for path in paths:
            fast = httpx.get(server.base_url + path, auth=(TEST_KEY, ""))
            slow = httpx.get(server.base_url + path + "?&", auth=(TEST_KEY, ""))
            assert fast.status_code == slow.status_code == 200 and fast.json() == slow.json()

        execute_sql(server, "ALTER TABLE versions RENAME TO versions_gone")
        for path in paths:
            log = LogCursor(server)
            fast = httpx.get(server.base_url + path, auth=(TEST_KEY, ""))
            fast_records = log.records(wait_for="unhandled error")
            slow = httpx.get(server.base_url + path + "?&", auth=(TEST_KEY, ""))
            slow_records = log.records(wait_for="unhandled error")

            assert fast.status_code == slow.status_code == 500
            assert fast.json() == slow.json() == {"message": INTERNAL_ERROR, "help": HELP}
            assert fast.headers["content-type"] == slow.headers["content-type"]
            assert [_summary(r) for r in fast_records] == [_summary(r) for r in slow_records]
            assert [_summary(r) for r in fast_records] == [
                ("ERROR", "mediavault", f"unhandled error on GET {path}", ANY)
            ]
            # The database's own complaint (SQLite / PostgreSQL), whole in the log.
            complaint = re.compile(r'no such table: versions|relation "versions" does not exist')
            assert complaint.search("\n".join(fast_records[0].traceback))
            # Each answer came from the path it was meant to test.
            assert "fast_reads.py" in "\n".join(fast_records[0].traceback)
            assert "fast_reads.py" not in "\n".join(slow_records[0].traceback)
    finally:
        server.stop()


def _summary(record: LogRecord) -> tuple[str, str, str, str]:
    return record.level, record.logger, record.message, record.exception
