"""Cache purge (client.cache.invalidation) and account usage (client.accounts.usage) through
the official SDK: renditions dropped and computed again, the purge hook retried until it takes
it, rename's real purgeRequestId, bandwidth counted per day as delivered, storage bytes and the
date rules."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit
from PIL import Image

from tests.e2e.webhook_receiver import Receiver
from tests.support import TEST_KEY, ServerProcess, free_port

AUTH = (TEST_KEY, "")


def picture(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed % 256, 80, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload(client: ImageKit, content: bytes, folder: str, name: str) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False
    )


def digest_of(url: str) -> str:
    """The blob digest behind a plain or ik-obj-version URL: its ETag."""
    answer = httpx.get(url)
    assert answer.status_code == 200
    return answer.headers["etag"].strip('"')


def renditions(server: ServerProcess, digest: str) -> list[tuple[str, int]]:
    folder = server.data / "cache" / "renditions" / digest[:2] / digest
    return sorted((p.name, p.stat().st_ino) for p in folder.glob("*") if p.is_file())


def wait_for(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_purge_drops_every_rendition_of_the_file_and_they_are_computed_again(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    item = upload(client, picture(1), folder, "p.png")
    base = f"{server.url_endpoint}{folder}/p.png"
    digest = digest_of(base)
    for link in (f"{base}?tr=w-20", f"{server.url_endpoint}/tr:w-30,h-10{folder}/p.png"):
        assert httpx.get(link).status_code == 200
    cached = renditions(server, digest)
    assert len(cached) == 2
    again = httpx.get(f"{base}?tr=w-20")
    assert renditions(server, digest) == cached  # a cache hit: nothing written
    purged = client.cache.invalidation.create(url=item.url)  # the url field, with its query
    assert len(purged.request_id) == 24
    assert client.cache.invalidation.get(purged.request_id).status == "Completed"
    assert renditions(server, digest) == []
    recomputed = httpx.get(f"{base}?tr=w-20")
    assert recomputed.content == again.content
    # Only the rendition asked for since: the purge emptied the cache, this one was made again.
    [(name, _)] = renditions(server, digest)
    assert name in {n for n, _ in cached}


def test_a_version_url_purges_that_version_and_a_wildcard_purges_a_prefix(
    client: ImageKit, server: ServerProcess, folder: str
) -> None:
    first = upload(client, picture(2), folder, "v.png")
    upload(client, picture(3), folder, "v.png")
    other = f"{server.url_endpoint}{folder}/sub/o.png"
    upload(client, picture(4), f"{folder}/sub", "o.png")
    versions = client.files.versions.list(first.file_id)
    [older] = [v for v in versions if v.version_info and v.version_info.name == "Version 1"]
    assert older.url is not None
    old_url, current_url = older.url, f"{server.url_endpoint}{folder}/v.png"
    token = old_url.split("ik-obj-version=")[1].split("&")[0]
    old, current, nested = digest_of(old_url), digest_of(current_url), digest_of(other)
    for link in (f"{old_url}&tr=w-10", f"{current_url}?tr=w-10", f"{other}?tr=w-10"):
        assert httpx.get(link).status_code == 200
    client.cache.invalidation.create(url=f"{current_url}?ik-obj-version={token}")
    assert renditions(server, old) == [] and renditions(server, current) != []
    client.cache.invalidation.create(url=f"{server.url_endpoint}{folder}/*")
    assert renditions(server, current) == [] and renditions(server, nested) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://ik.imagekit.io/demo/animals/cat.jpg",  # not this server's
        "{endpoint}x*",  # a wildcard on one short level
        "{endpoint}/a*b/c.jpg",  # a * anywhere but at the end
        "{endpoint}/",
        "",
    ],
)
def test_a_url_that_cannot_be_purged_is_a_400(
    client: ImageKit, server: ServerProcess, url: str
) -> None:
    with pytest.raises(imagekitio.BadRequestError) as raised:
        client.cache.invalidation.create(url=url.format(endpoint=server.url_endpoint))
    assert raised.value.body["message"] == "The URL is not valid for cache purging."  # type: ignore[index]


def test_an_unknown_purge_request_is_a_400(client: ImageKit) -> None:
    for unknown in ("0123456789abcdef01234567", "nope"):
        with pytest.raises(imagekitio.BadRequestError) as raised:
            client.cache.invalidation.get(unknown)
        assert raised.value.body["message"] == "No request found for this requestId."  # type: ignore[index]


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[tuple[ServerProcess, Receiver]]:
    """A server whose purges go to a hook that refuses the first two deliveries."""
    receiver = Receiver(None, free_port(), fail_first=2).start()
    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_PURGE_WEBHOOK_URL": receiver.url},
    ).start()
    yield server, receiver
    server.stop()
    receiver.stop()


def test_a_forwarded_purge_is_pending_until_the_hook_takes_it(
    hooked: tuple[ServerProcess, Receiver],
) -> None:
    server, receiver = hooked
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    upload(client, picture(5), "/h", "a.png")
    url = f"{server.url_endpoint}/h/a.png"
    purge = client.cache.invalidation.create(url=url)
    assert client.cache.invalidation.get(purge.request_id).status == "Pending"
    wait_for(lambda: len(receiver.refused) == 2)
    assert client.cache.invalidation.get(purge.request_id).status == "Pending"
    assert receiver.wait_for(1) == [{"url": url}]
    wait_for(lambda: client.cache.invalidation.get(purge.request_id).status == "Completed")
    assert receiver.refused == [{"url": url}, {"url": url}]

    # Rename's purgeCache: a real request, of the old URL, forwarded the same way.
    renamed = client.files.rename(file_path="/h/a.png", new_file_name="b.png", purge_cache=True)
    assert renamed.purge_request_id is not None
    wait_for(lambda: client.cache.invalidation.get(renamed.purge_request_id).status == "Completed")  # type: ignore[arg-type]
    assert receiver.wait_for(2)[1] == {"url": url}

    # A folder rename's one purge, `<old folder URL>*`, is sent once the job is done.
    job = client.folders.rename(folder_path="/h", new_folder_name="k", purge_cache=True)
    wait_for(lambda: client.folders.job.get(job.job_id).status == "Completed")
    finished = client.folders.job.get(job.job_id)
    assert finished.purge_request_id is not None
    wait_for(lambda: client.cache.invalidation.get(finished.purge_request_id).status == "Completed")  # type: ignore[arg-type]
    assert receiver.wait_for(3)[2] == {"url": f"{server.url_endpoint}/h/*"}


def test_rename_without_purge_cache_gives_no_purge_request(client: ImageKit, folder: str) -> None:
    upload(client, b"text", folder, "r.txt")
    renamed = client.files.rename(file_path=f"{folder}/r.txt", new_file_name="s.txt")
    assert renamed.purge_request_id is None
    purged = client.files.rename(
        file_path=f"{folder}/s.txt", new_file_name="t.txt", purge_cache=True
    )
    assert client.cache.invalidation.get(purged.purge_request_id).status == "Completed"  # type: ignore[arg-type]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def test_usage_counts_the_bytes_delivered_per_day_and_the_bytes_stored(tmp_path: Path) -> None:
    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_BANDWIDTH_FLUSH_SECONDS": "0.3"},
    ).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        small = upload(client, b"s" * 1000, "/u", "small.txt")
        upload(client, b"L" * 300_000, "/u", "large.bin")  # sent by pathsend, not in memory
        upload(client, picture(6), "/u", "p.png")
        upload(client, b"s" * 10, "/u", "small.txt")  # a second version
        today, tomorrow = _today(), _today() + dt.timedelta(days=1)

        def usage(start: dt.date = today, end: dt.date = tomorrow) -> Any:
            return client.accounts.usage.get(start_date=start, end_date=end)

        assert usage().bandwidth_bytes == 0
        delivered = 0
        for link in (small.url, f"{server.url_endpoint}/u/large.bin",
                     f"{server.url_endpoint}/u/p.png?tr=w-20"):  # fmt: skip
            answer = httpx.get(link)
            assert answer.status_code == 200
            delivered += len(answer.content)
        ranged = httpx.get(f"{server.url_endpoint}/u/large.bin", headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and len(ranged.content) == 100
        delivered += 100
        etag = httpx.get(small.url).headers["etag"]
        delivered += 10
        assert httpx.get(small.url, headers={"If-None-Match": etag}).status_code == 304
        assert httpx.head(small.url).status_code == 200  # no body: nothing delivered
        assert httpx.get(f"{server.url_endpoint}/u/none.txt").status_code == 404
        wait_for(lambda: usage().bandwidth_bytes == delivered, timeout=10)
        time.sleep(0.7)  # two more flushes: nothing counted twice
        found = usage()
        assert found.bandwidth_bytes == delivered
        storage = httpx.get(f"{server.base_url}/v1/storage", auth=AUTH).json()
        assert found.media_library_storage_bytes == storage["versionBytes"] + storage["trashBytes"]
        assert found.media_library_storage_bytes == 1000 + 300_000 + len(picture(6)) + 10
        assert (found.video_processing_units_count, found.extension_units_count,
                found.original_cache_storage_bytes) == (0, 0, 0)  # fmt: skip
        # The end day is not counted; a range of earlier days saw nothing.
        assert usage(today - dt.timedelta(days=3), today).bandwidth_bytes == 0

        # Counted bytes not flushed yet are written at shutdown.
        server.env["MEDIAVAULT_BANDWIDTH_FLUSH_SECONDS"] = "3600"
        server.stop()
        server.start()
        delivered += len(httpx.get(f"{server.url_endpoint}/u/large.bin").content)
        server.stop()
        server.start()
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        assert usage().bandwidth_bytes == delivered
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "startDate and endDate are required in query parameters."),
        ({"startDate": "2024-01-01"}, "startDate and endDate are required in query parameters."),
        ({"startDate": "01-01-2024", "endDate": "2024-02-01"},
         "startDate and endDate should be in format YYYY-MM-DD."),
        ({"startDate": "2024-02-30", "endDate": "2024-03-01"},
         "startDate and endDate should be in format YYYY-MM-DD."),
        ({"startDate": "2024-02-01", "endDate": "2024-01-01"}, "startDate should be before endDate."),
        ({"startDate": "2024-01-01", "endDate": "2024-01-01"}, "startDate should be before endDate."),
        ({"startDate": "2024-01-01", "endDate": "2024-06-01"},
         "startDate and endDate should be within 90 days."),
        ({"startDate": "2024-01-01", "endDate": "2024-04-01"},
         "startDate and endDate should be within 90 days."),
    ],
)  # fmt: skip
def test_usage_dates_are_checked_as_the_spec_says(
    server: ServerProcess, params: dict[str, str], message: str
) -> None:
    answer = httpx.get(f"{server.base_url}/v1/accounts/usage", params=params, auth=AUTH)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == message


def test_a_range_of_exactly_90_days_is_accepted(client: ImageKit) -> None:
    found = client.accounts.usage.get(start_date="2024-01-01", end_date="2024-03-31")
    assert found.bandwidth_bytes == 0
