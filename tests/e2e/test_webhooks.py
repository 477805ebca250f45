"""Webhooks: written with their change, delivered after it, verified by the SDK's unwrap()."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from imagekitio import ImageKit

from tests.e2e.webhook_receiver import Receiver
from tests.support import TEST_KEY, ServerProcess, free_port, sql

SECRET = "whsec_mediavault_test_secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET, free_port()).start()
    yield running
    running.stop()


def hooked_server(data: Path, *urls: str) -> ServerProcess:
    env = {"MEDIAVAULT_WEBHOOK_URL": ",".join(urls), "MEDIAVAULT_WEBHOOK_SECRET": SECRET}
    return ServerProcess(data=data, port=free_port(), env=env).start()


def sdk(server: ServerProcess) -> ImageKit:
    return ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)


def lifecycle(client: ImageKit, make_image: Callable[..., bytes]) -> tuple[str, list[str]]:
    """One of every kind of change; returns the file id and the event types, in order."""
    put = dict(file_name="w.jpg", folder="/hooks", use_unique_file_name=False)
    first = client.files.upload(file=make_image(10, 10), **put)
    second = client.files.upload(file=make_image(12, 12), **put)
    client.files.versions.restore(first.file_id, file_id=first.file_id)
    client.files.update(first.file_id, tags=["hooked"])
    client.files.versions.delete(second.version_info.id, file_id=first.file_id)
    client.files.delete(first.file_id)
    return first.file_id, [
        "file.created",
        "file-version.created",
        "file.updated",
        "file.updated",
        "file-version.deleted",
        "file.deleted",
    ]


def test_every_change_is_delivered_once_in_order_and_verifies(
    tmp_path: Path, receiver: Receiver, make_image: Callable[..., bytes]
) -> None:
    server = hooked_server(tmp_path / "data", receiver.url)
    try:
        file_id, expected = lifecycle(sdk(server), make_image)
        events = receiver.wait_for(len(expected))
        time.sleep(1.0)  # anything extra would arrive now
    finally:
        server.stop()
    assert receiver.failures == []
    assert [e["type"] for e in receiver.events] == expected
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["data"]["fileId"] == file_id for e in events)
    created = events[0]["data"]
    assert created["versionInfo"] == {"id": file_id, "name": "Version 1"}
    assert created["type"] == "file" and created["filePath"] == "/hooks/w.jpg"
    assert events[1]["data"]["versionInfo"]["name"] == "Version 2"
    assert events[2]["data"]["versionInfo"]["name"] == "Version 1"
    assert events[3]["data"]["tags"] == ["hooked"]
    assert set(events[4]["data"]) == {"fileId", "versionId"}
    assert events[5]["data"] == {"fileId": file_id}
    for event, headers in zip(events, receiver.headers, strict=True):
        assert headers["webhook-id"] == event["id"]
        assert headers["x-ik-signature"].startswith("t=")
        assert event["created_at"].endswith("Z")


def test_events_survive_a_killed_server_and_a_dead_receiver(
    tmp_path: Path, make_image: Callable[..., bytes]
) -> None:
    port = free_port()
    receiver = Receiver(SECRET, port)  # not listening yet: every delivery fails
    data = tmp_path / "data"
    server = hooked_server(data, receiver.url)
    start = time.monotonic()
    _, expected = lifecycle(sdk(server), make_image)
    # A dead receiver must not slow the API down.
    assert time.monotonic() - start < 10
    server.kill()
    waiting = sql(server, "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL")
    assert waiting == [(len(expected),)]
    receiver.start()
    try:
        restarted = server
        restarted.port = free_port()
        restarted.start()
        try:
            events = receiver.wait_for(len(expected), timeout=30)
            time.sleep(1.0)
        finally:
            restarted.stop()
    finally:
        receiver.stop()
    assert [e["type"] for e in receiver.events] == expected
    assert len({e["id"] for e in events}) == len(expected)
    assert receiver.failures == []


def test_several_receivers_each_get_every_event(
    tmp_path: Path, receiver: Receiver, make_image: Callable[..., bytes]
) -> None:
    other = Receiver(SECRET, free_port()).start()
    server = hooked_server(tmp_path / "data", receiver.url, other.url)
    try:
        sdk(server).files.upload(file=make_image(), file_name="two.jpg")
        assert len(receiver.wait_for(1)) == 1
        assert len(other.wait_for(1)) == 1
        assert receiver.events[0]["id"] == other.events[0]["id"]
    finally:
        server.stop()
        other.stop()
