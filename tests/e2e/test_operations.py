"""Operations (issue 16): metrics, JSON logs, readiness, graceful shutdown, check-config."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from mediavault.api.errors import HELP
from mediavault.domain.signing import sign
from mediavault.wiring import build_blob_store
from tests.backends import backend_env
from tests.faults import TcpProxy
from tests.support import TEST_KEY, ServerProcess, free_port, settings_of, sql

TOKEN = "metrics-token-0123456789"
VERSION_ROUTE = "/v1/files/{fileId}/versions/{versionId}"
ON_POSTGRES = bool(os.environ.get("MEDIAVAULT_TEST_DATABASE_URL"))
ON_S3 = bool(os.environ.get("MEDIAVAULT_TEST_BLOB_URL"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One worker, JSON logs, metrics behind a token: the counters move only by this module."""
    env = {"MEDIAVAULT_LOG_FORMAT": "json", "MEDIAVAULT_METRICS_TOKEN": TOKEN}
    data = tmp_path_factory.mktemp("ops") / "data"
    process = ServerProcess(data=data, port=free_port(), env=env).start()
    yield process
    process.stop()


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60)


def scrape(
    server: ServerProcess, token: str | None = TOKEN
) -> dict[tuple[str, frozenset[Any]], float]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def upload(client: httpx.Client, name: str, content: bytes, folder: str = "/ops") -> Any:
    response = client.post(
        "/api/v1/files/upload",
        files={"file": (name, content)},
        data={"fileName": name, "folder": folder, "useUniqueFileName": "false"},
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- metrics ------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_method_and_status(server: ServerProcess) -> None:
    client = api(server)
    file = upload(client, "count.txt", b"count me")
    path = f"/v1/files/{file['fileId']}/versions/{file['versionInfo']['id']}"
    before = scrape(server)
    assert client.get(path).status_code == 200  # the fast path
    assert client.get(path, params={"include": "pinned"}).status_code == 200  # Litestar's route
    unknown = f"/v1/files/{file['fileId']}/versions/{'0' * 24}"
    assert client.get(unknown).status_code == 404
    assert client.get("/no/such/route/x1").status_code == 404
    assert client.get("/no/such/route/x2").status_code == 404
    after = scrape(server)
    name = "mediavault_http_requests_total"

    def moved(**labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(route=VERSION_ROUTE, method="GET", status="200") == 2
    assert moved(route=VERSION_ROUTE, method="GET", status="404") == 1
    assert moved(route="unmatched", method="GET", status="404") == 2
    # No label holds a raw path: ids and unknown paths never become label values.
    labels = {dict(key[1]).get("route", "") for key in after}
    assert not [route for route in labels if file["fileId"] in route or "x1" in route]
    latency = "mediavault_http_request_duration_seconds_count"
    assert (
        value(after, latency, route=VERSION_ROUTE) - value(before, latency, route=VERSION_ROUTE)
        == 3
    )


def test_upload_and_delivery_bytes_are_what_went_over_the_wire(server: ServerProcess) -> None:
    client = api(server)
    small, large = os.urandom(3000), os.urandom(300_000)  # one body message; a pathsend
    request = client.build_request(
        "POST",
        "/api/v1/files/upload",
        files={"file": ("bytes.bin", large)},
        data={"fileName": "bytes.bin", "folder": "/ops", "useUniqueFileName": "false"},
    )
    sent = len(request.read())
    before = scrape(server)
    response = client.send(request)
    assert response.status_code == 200, response.text
    received = scrape(server)
    assert (
        value(received, "mediavault_upload_received_bytes_total")
        - value(before, "mediavault_upload_received_bytes_total")
        == sent
    )
    small_url = upload(client, "small.bin", small)["url"]
    before = scrape(server)
    got = [httpx.get(response.json()["url"]).content, httpx.get(small_url).content]
    ranged = httpx.get(small_url, headers={"range": "bytes=0-99"})
    assert got == [large, small] and ranged.status_code == 206
    assert httpx.head(small_url).status_code == 200  # no body: no bytes
    after = scrape(server)
    delivered = value(after, "mediavault_delivery_sent_bytes_total") - value(
        before, "mediavault_delivery_sent_bytes_total"
    )
    assert delivered == len(large) + len(small) + 100


def test_versions_created_restored_and_deleted_are_counted(server: ServerProcess) -> None:
    client = api(server)
    before = scrape(server)
    first = upload(client, "lifecycle.txt", b"one")
    second = upload(client, "lifecycle.txt", b"two")
    file_id, first_id = first["fileId"], first["versionInfo"]["id"]
    restore = client.put(f"/v1/files/{file_id}/versions/{first_id}/restore")
    assert restore.status_code == 200
    assert client.put(f"/v1/files/{file_id}/versions/{first_id}/restore").status_code == 200
    deleted = client.delete(f"/v1/files/{file_id}/versions/{second['versionInfo']['id']}")
    assert deleted.status_code == 204
    after = scrape(server)
    for name, moved in [("created", 2), ("restored", 1), ("deleted", 1)]:  # a no-op restore: 0
        metric = f"mediavault_versions_{name}_total"
        assert value(after, metric) - value(before, metric) == moved, name


def test_metrics_need_the_token_when_one_is_set(server: ServerProcess) -> None:
    for headers in [{}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}]:
        response = httpx.get(f"{server.base_url}/metrics", headers=headers)
        assert response.status_code == 401
        assert set(response.json()) == {"message", "help"}
        assert response.json()["help"] == HELP
        assert TOKEN not in response.text
    assert scrape(server, TOKEN)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("ops2") / "data"
    process = ServerProcess(data=data, port=free_port(), workers=2).start()
    yield process
    process.stop()


def test_with_two_workers_the_totals_count_both(two_workers: ServerProcess) -> None:
    client = api(two_workers)
    file = upload(client, "both.txt", b"both")
    path = f"/v1/files/{file['fileId']}/versions/{file['versionInfo']['id']}"
    before = scrape(two_workers, token=None)  # no token configured: open

    def get(_: int) -> int:
        with httpx.Client(base_url=two_workers.base_url, auth=(TEST_KEY, "")) as fresh:
            return fresh.get(path).status_code  # a connection each: both workers accept

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(get, range(400)))
    assert statuses == [200] * 400
    labels = {"route": VERSION_ROUTE, "method": "GET", "status": "200"}
    deadline = time.monotonic() + 10  # the other worker adds its counts every second
    while True:
        after = scrape(two_workers, token=None)
        moved = value(after, "mediavault_http_requests_total", **labels) - value(
            before, "mediavault_http_requests_total", **labels
        )
        if moved >= 400 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert moved == 400
    counted_by = {p.name.rsplit("_", 1)[1] for p in metrics_files(two_workers)}
    assert len(counted_by) >= 2, counted_by  # both workers wrote counters of their own


def metrics_files(server: ServerProcess) -> list[Path]:
    return list((server.data / "cache" / "metrics").glob("counter_*.db"))


def test_backlogs_are_gauges_computed_when_scraped(two_workers: ServerProcess) -> None:
    samples = scrape(two_workers, token=None)
    for name in [
        "mediavault_webhook_outbox_backlog",
        "mediavault_trash_files",
        "mediavault_trash_expired_files",
    ]:
        assert (name, frozenset()) in samples, name
    client = api(two_workers)
    file = upload(client, "trashed.txt", b"to the trash")
    assert client.delete(f"/v1/files/{file['fileId']}").status_code == 204
    after = scrape(two_workers, token=None)
    assert value(after, "mediavault_trash_files") == value(samples, "mediavault_trash_files") + 1


# --- JSON logs ----------------------------------------------------------------------------------


def log_lines(server: ServerProcess, start: int) -> list[dict[str, Any]]:
    lines = server.log_path.read_text().splitlines()[start:]
    return [json.loads(line) for line in lines if line.strip()]


def wait_for_line(server: ServerProcess, start: int, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        lines = log_lines(server, start)
        # The request's own line is written once its answer has gone: the last of its lines.
        if any(x.get("requestId") == request_id and x["message"] == "request" for x in lines):
            return lines
        assert time.monotonic() < deadline, f"no line for {request_id}"
        time.sleep(0.05)


def test_json_log_lines_carry_the_request_id_and_never_a_secret(server: ServerProcess) -> None:
    client = api(server)
    start = len(server.log_path.read_text().splitlines())
    response = client.post(
        "/api/v1/files/upload",
        files={"file": ("logged.txt", b"logged bytes")},
        data={"fileName": "logged.txt", "folder": "/ops", "isPrivateFile": "true"},
    )
    assert response.status_code == 200, response.text
    file = response.json()
    relative = file["filePath"].lstrip("/")
    expiry = str(int(time.time()) + 600)
    signature = sign(TEST_KEY, relative, expiry)
    signed = f"{server.url_endpoint}/{relative}?ik-t={expiry}&ik-s={signature}"
    mine = httpx.get(signed, headers={"x-request-id": "client-chosen.id_1"})
    assert mine.status_code == 200, mine.text
    assert mine.headers["x-request-id"] == "client-chosen.id_1"
    assert mine.headers["x-ik-requestid"] == "client-chosen.id_1"
    insane = httpx.get(signed, headers={"x-request-id": "bad id with spaces"})
    generated = insane.headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 24
    listed = client.get(f"/v1/files/{file['fileId']}/versions")
    lines = wait_for_line(server, start, listed.headers["x-request-id"])
    text = server.log_path.read_text()
    for secret in [TEST_KEY, signature, TOKEN, "authorization", "Basic "]:
        assert secret not in text, secret
    requests = {line["requestId"]: line for line in lines if line["message"] == "request"}
    line = requests["client-chosen.id_1"]
    assert line["route"] == "/media/{filePath}" and line["method"] == "GET"
    assert line["status"] == 200 and line["bytesOut"] == len(b"logged bytes")
    assert line["durationMs"] > 0 and line["level"] == "INFO"
    assert requests[generated]["status"] == 200
    assert requests[listed.headers["x-request-id"]]["route"] == "/v1/files/{fileId}/versions"


def test_an_error_is_one_json_object_with_its_traceback_and_request_id(
    server: ServerProcess,
) -> None:
    client = api(server)
    file = upload(client, "broken.txt", os.urandom(500))
    version_id = file["versionInfo"]["id"]
    [(digest,)] = sql(server, f"SELECT blob_digest FROM versions WHERE id = '{version_id}'")
    build_blob_store(settings_of(server)).delete(str(digest))
    start = len(server.log_path.read_text().splitlines())
    response = httpx.get(file["url"], headers={"x-request-id": "broken-1"})
    assert response.status_code == 500
    lines = wait_for_line(server, start, "broken-1")
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert error["requestId"] == "broken-1"
    assert "Traceback" in error["traceback"] and "BlobMissing" in error["traceback"]
    [request] = [line for line in lines if line["message"] == "request"]
    assert request["status"] == 500 and request["requestId"] == "broken-1"


# --- readiness ----------------------------------------------------------------------------------


def wait_for_readiness(server: ServerProcess, status: int, timeout: float = 150) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{server.base_url}/readyz", timeout=timeout)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


class DatabaseOutage:
    """A real, restorable loss of the server's database: on PostgreSQL the proxy between them
    is cut (and a new one opened on its port); on SQLite the file goes away (and comes back),
    as an unmounted or lost file would."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.proxy: TcpProxy | None = None
        if ON_POSTGRES:
            url = sa.engine.make_url(server.backend["MEDIAVAULT_DATABASE_URL"])
            self.target = f"http://{url.host}:{url.port or 5432}"
            self.proxy = TcpProxy(self.target)
            proxied = url.set(host="127.0.0.1", port=self.proxy.port)
            server.env["MEDIAVAULT_DATABASE_URL"] = proxied.render_as_string(hide_password=False)
        self.file = server.data / "mediavault.sqlite3"

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self.file.rename(self.file.with_name("away.sqlite3"))

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy = TcpProxy(self.target, port=self.proxy.port)
        else:
            self.file.with_name("away.sqlite3").rename(self.file)


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[DatabaseOutage]:
    server = ServerProcess(data=tmp_path / "data", port=free_port())
    server.backend = backend_env()
    outage = DatabaseOutage(server)
    server.start()
    yield outage
    server.stop()


def test_readyz_is_503_while_the_database_is_unreachable_and_200_after(
    outage: DatabaseOutage,
) -> None:
    server = outage.server
    assert wait_for_readiness(server, 200).json() == {"status": "ready"}
    outage.begin()
    try:
        response = wait_for_readiness(server, 503)
        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == ["database"] and body["help"] == HELP
        assert "database" in body["message"]
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200  # still alive
    finally:
        outage.end()
    assert wait_for_readiness(server, 200).status_code == 200


def test_readyz_is_503_while_the_blob_store_is_unwritable_and_200_after(
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(os.environ["MEDIAVAULT_TEST_S3_ENDPOINT"]) if ON_S3 else None
    env = {"MEDIAVAULT_S3_ENDPOINT": proxy.endpoint} if proxy else {}
    server = ServerProcess(data=tmp_path / "data", port=free_port(), env=env).start()
    staging = server.data / "blobs" / ".staging"
    try:
        assert wait_for_readiness(server, 200).status_code == 200
        if proxy is not None:
            proxy.cut()
        else:
            # Root ignores permissions: a file where the staging folder was refuses every write.
            staging.rename(staging.with_name("staging-away"))
            staging.write_text("not a folder")
        try:
            response = wait_for_readiness(server, 503)
            assert response.status_code == 503, response.text
            assert response.json()["failed"] == ["blob store"]
            assert "blob store" in response.json()["message"]
        finally:
            if proxy is not None:
                proxy = TcpProxy(os.environ["MEDIAVAULT_TEST_S3_ENDPOINT"], port=proxy.port)
            else:
                staging.unlink()
                staging.with_name("staging-away").rename(staging)
        assert wait_for_readiness(server, 200).status_code == 200
    finally:
        server.stop()


# --- graceful shutdown --------------------------------------------------------------------------


def slow_form(name: str, chunks: list[bytes], pause: float) -> Iterator[bytes]:
    yield (
        f'--B\r\nContent-Disposition: form-data; name="fileName"\r\n\r\n{name}\r\n'
        '--B\r\nContent-Disposition: form-data; name="useUniqueFileName"\r\n\r\nfalse\r\n'
        f'--B\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for chunk in chunks:
        time.sleep(pause)
        yield chunk
    yield b"\r\n--B--\r\n"


def test_sigterm_lets_a_slow_upload_finish_refuses_new_connections_and_exits_0(
    tmp_path: Path,
) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    chunks = [os.urandom(20_000) for _ in range(8)]
    outcome: dict[str, Any] = {}
    sending = threading.Event()

    def slow_upload() -> None:
        def body() -> Iterator[bytes]:
            for part in slow_form("slow.bin", chunks, pause=0.5):
                sending.set()
                yield part

        try:
            outcome["upload"] = httpx.post(
                f"{server.base_url}/api/v1/files/upload",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=B"},
                auth=(TEST_KEY, ""),
                timeout=60,
            )
        except httpx.HTTPError as exc:
            outcome["upload"] = exc

    uploader = threading.Thread(target=slow_upload)
    uploader.start()
    try:
        assert sending.wait(30)
        time.sleep(1)  # the upload is in flight, a few chunks still to come
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert uploader.is_alive(), "the upload ended before the test could signal"
        with pytest.raises(httpx.ConnectError):  # a closed listener, not an accepted-then-cut
            httpx.get(f"{server.base_url}/healthz", timeout=10)
        uploader.join(60)
        response = outcome["upload"]
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200, response.text
        assert server.process.wait(timeout=60) == 0
    finally:
        server.stop()
    restarted = ServerProcess(data=server.data, port=free_port())
    restarted.backend = server.backend
    restarted.start()
    try:
        delivered = httpx.get(f"{restarted.url_endpoint}/slow.bin", timeout=30)
        assert delivered.status_code == 200
        assert delivered.content == b"".join(chunks)
    finally:
        restarted.stop()


# --- check-config -------------------------------------------------------------------------------


def run_cli(server: ServerProcess, *args: str, **env: str) -> Any:
    import subprocess
    import sys

    full = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    full.update(server.settings.to_env())
    full.update(env)
    command = [str(Path(sys.executable).parent / "mediavault"), *args]
    return subprocess.run(command, env=full, capture_output=True, text=True, timeout=300)


def test_check_config_passes_on_the_running_servers_settings(server: ServerProcess) -> None:
    done = run_cli(server, "check-config")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: database" in done.stdout and "migrated" in done.stdout
    assert "ok: blob store" in done.stdout and "is writable" in done.stdout
    assert done.stdout.rstrip().endswith("The configuration is valid.")
    assert TEST_KEY not in done.stdout + done.stderr


def test_check_config_fails_on_a_wrong_database_url(server: ServerProcess, tmp_path: Path) -> None:
    wrong = "postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/nothing"
    done = run_cli(server, "check-config", MEDIAVAULT_DATABASE_URL=wrong)
    assert done.returncode != 0
    assert "FAILED: database postgresql+psycopg://nobody:***@127.0.0.1:1/nothing" in done.stdout
    assert "does not answer" in done.stdout and "secret-pw" not in done.stdout
    assert "ok: blob store" in done.stdout  # every engine is still checked
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    (tmp_path / "empty.sqlite3").touch()
    done = run_cli(server, "check-config", MEDIAVAULT_DATABASE_URL=empty)
    assert done.returncode != 0 and "mediavault migrate" in done.stdout


def test_check_config_and_serve_refuse_an_invalid_setting_with_the_same_message(
    server: ServerProcess, tmp_path: Path
) -> None:
    bad = {"MEDIAVAULT_LOG_FORMAT": "xml", "MEDIAVAULT_SHUTDOWN_GRACE_SECONDS": "0"}
    checked = run_cli(server, "check-config", **bad)
    served = run_cli(server, "serve", "--port", str(free_port()), **bad)
    assert checked.returncode != 0 and served.returncode != 0
    for message in [
        "invalid setting: MEDIAVAULT_LOG_FORMAT must be text or json, got 'xml'",
        "invalid setting: MEDIAVAULT_SHUTDOWN_GRACE_SECONDS must be from 1 to 1800 seconds",
    ]:
        assert message in checked.stderr and message in served.stderr
    unparsable = run_cli(server, "serve", MEDIAVAULT_PORT="eighty")
    assert unparsable.returncode != 0 and "MEDIAVAULT_PORT must be an integer" in unparsable.stderr


def test_webhook_hosts_must_resolve(server: ServerProcess) -> None:
    done = run_cli(
        server, "check-config", MEDIAVAULT_WEBHOOK_URL="http://no-such-host.invalid/hook"
    )
    assert done.returncode != 0
    assert "FAILED: webhook URL http://no-such-host.invalid/hook" in done.stdout
    fine = run_cli(server, "check-config", MEDIAVAULT_WEBHOOK_URL="http://127.0.0.1:9/hook")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert urlsplit("http://127.0.0.1:9/hook").hostname in fine.stdout
