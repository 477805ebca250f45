"""Conditional writes (ETag, If-Match, If-None-Match) and idempotent retries (Idempotency-Key),
through the official SDK where it can send the headers (`extra_headers=`), httpx otherwise."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import imagekitio
import pytest
from imagekitio import ImageKit

from mediavault.services.idempotency import body_meaning, request_digest
from tests.faults import execute_sql
from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port, sql

AUTH = (TEST_KEY, "")


def stale_message(version_id: str) -> str:
    return f"The file has changed since version {version_id}."


def put(client: ImageKit, content: bytes, folder: str, name: str = "f.txt", **kw: Any) -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False, **kw
    )


def if_match(version_id: str) -> dict[str, str]:
    return {"If-Match": f'"{version_id}"'}


def state(server: ServerProcess, folder: str) -> list[tuple[Any, ...]]:
    """Every file and version under the folder, with what a change would move."""
    return sql(
        server,
        "SELECT f.file_path, f.updated_at, f.last_version_number, v.id, v.number, v.is_current,"
        " v.updated_at, v.tags, v.is_published FROM files f JOIN versions v ON v.file_id = f.id"
        # substr, not LIKE: psycopg reads a bare % as a placeholder.
        f" WHERE substr(f.file_path, 1, {len(folder) + 1}) = '{folder}/' ORDER BY v.id",
    )


def version_count(server: ServerProcess, file_path: str) -> int:
    rows = sql(
        server,
        "SELECT count(*) FROM versions v JOIN files f ON f.id = v.file_id"
        f" WHERE f.file_path = '{file_path}'",
    )
    return int(rows[0][0])


# --- ETag ---------------------------------------------------------------------------------------


def test_answers_describing_a_file_carry_its_current_version_as_etag(
    client: ImageKit, folder: str, server: ServerProcess
) -> None:
    first = client.files.with_raw_response.upload(
        file=b"one", file_name="e.txt", folder=folder, use_unique_file_name=False
    )
    v1 = first.parse().version_info.id
    assert first.headers["etag"] == f'"{v1}"'
    second = client.files.with_raw_response.upload(
        file=b"two", file_name="e.txt", folder=folder, use_unique_file_name=False
    )
    file_id, v2 = first.parse().file_id, second.parse().version_info.id
    assert second.headers["etag"] == f'"{v2}"' and v2 != v1
    paths = [
        f"/v1/files/{file_id}/details",
        f"/v1/files/{file_id}/versions",
        f"/v1/files/{file_id}/versions/{v2}",
        f"/v1/files/{file_id}/versions/{v1}",  # an older version: still the file's ETag
    ]
    for path in paths:
        # No query string: the fast path in front of Litestar; "?&": the Litestar route.
        for suffix in ("", "?&"):
            answer = httpx.get(server.base_url + path + suffix, auth=AUTH)
            assert answer.status_code == 200, path
            assert answer.headers["etag"] == f'"{v2}"', path + suffix
    restored = client.files.versions.with_raw_response.restore(v1, file_id=file_id)
    assert restored.headers["etag"] == f'"{v1}"'
    for suffix in ("", "?&"):
        answer = httpx.get(f"{server.base_url}/v1/files/{file_id}/versions{suffix}", auth=AUTH)
        assert answer.headers["etag"] == f'"{v1}"'
    patched = client.files.with_raw_response.update(file_id, tags=["x"])
    assert patched.headers["etag"] == f'"{v1}"'


def test_errors_carry_no_etag(server: ServerProcess) -> None:
    missing = "0123456789abcdef01234567"
    for suffix in ("", "?&"):
        answer = httpx.get(f"{server.base_url}/v1/files/{missing}/details{suffix}", auth=AUTH)
        assert answer.status_code == 404 and "etag" not in answer.headers


# --- If-Match on every write that takes it -----------------------------------------------------


class Subject:
    """A file with two versions: v1 (stale) and v2 (current)."""

    def __init__(self, client: ImageKit, folder: str) -> None:
        self.folder, self.name = folder, "s.txt"
        self.path = f"{folder}/{self.name}"
        first = put(client, b"first", folder, self.name, tags=["t"])
        second = put(client, b"second", folder, self.name, tags=["t"])
        self.file_id, self.v1, self.v2 = (
            first.file_id,
            first.version_info.id,
            second.version_info.id,
        )


Operation = Callable[[ImageKit, Subject, dict[str, str]], Any]

OPERATIONS: dict[str, Operation] = {
    "upload": lambda c, s, h: put(c, b"third", s.folder, s.name, extra_headers=h),
    "restore": lambda c, s, h: c.files.versions.restore(s.v1, file_id=s.file_id, extra_headers=h),
    "delete version": lambda c, s, h: c.files.versions.delete(
        s.v1, file_id=s.file_id, extra_headers=h
    ),
    "update details": lambda c, s, h: c.files.update(s.file_id, tags=["new"], extra_headers=h),
    "publish": lambda c, s, h: c.files.update(
        s.file_id, publish={"is_published": False}, extra_headers=h
    ),
    "delete file": lambda c, s, h: c.files.delete(s.file_id, extra_headers=h),
    "copy": lambda c, s, h: c.files.copy(
        source_file_path=s.path, destination_path=s.folder + "/copies", extra_headers=h
    ),
    "move": lambda c, s, h: c.files.move(
        source_file_path=s.path, destination_path=s.folder + "/moved", extra_headers=h
    ),
    "rename": lambda c, s, h: c.files.rename(
        file_path=s.path, new_file_name="renamed.txt", extra_headers=h
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_stale_if_match_changes_nothing_and_the_current_one_succeeds(
    client: ImageKit, folder: str, server: ServerProcess, operation: str
) -> None:
    subject = Subject(client, folder)
    run = OPERATIONS[operation]
    before = state(server, folder)
    with pytest.raises(imagekitio.APIStatusError) as refused:
        run(client, subject, if_match(subject.v1))
    assert refused.value.status_code == 412
    assert refused.value.body == {
        "message": stale_message(subject.v1),
        "help": "See docs/errors.md in the mediavault documentation.",
    }
    assert state(server, folder) == before
    run(client, subject, if_match(subject.v2.upper()))  # ids compare in any case
    assert state(server, folder) != before
    check_invariants(server)


@pytest.mark.parametrize("operation", ["restore", "delete file", "rename"])
def test_if_match_star_holds_for_any_current_version(
    client: ImageKit, folder: str, server: ServerProcess, operation: str
) -> None:
    subject = Subject(client, folder)
    before = state(server, folder)
    OPERATIONS[operation](client, subject, {"If-Match": "*"})
    assert state(server, folder) != before


def test_upload_with_if_match_onto_an_empty_path_fails(client: ImageKit, folder: str) -> None:
    v = "0123456789abcdef01234567"
    with pytest.raises(imagekitio.APIStatusError) as refused:
        put(client, b"x", folder, "none.txt", extra_headers=if_match(v))
    assert refused.value.status_code == 412
    assert refused.value.body["message"] == (
        f"The file has changed since version {v}: no file exists at this path."
    )
    with pytest.raises(imagekitio.APIStatusError) as refused:
        put(client, b"x", folder, "none.txt", extra_headers={"If-Match": "*"})
    assert refused.value.status_code == 412
    assert refused.value.body["message"] == "No file exists at this path."
    assert client.assets.list(path=folder) == []


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "0123456789abcdef01234567",  # unquoted
        'W/"0123456789abcdef01234567"',  # weak
        '"0123456789abcdef01234567", "0123456789abcdef01234568"',  # a list
        '"0123456789abcdef0123456"',  # 23 digits
        "",
    ],
)
def test_a_malformed_if_match_is_a_400_and_changes_nothing(
    client: ImageKit, folder: str, server: ServerProcess, value: str
) -> None:
    subject = Subject(client, folder)
    before = state(server, folder)
    answer = httpx.put(
        f"{server.base_url}/v1/files/{subject.file_id}/versions/{subject.v1}/restore",
        headers={"If-Match": value},
        auth=AUTH,
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Your request contains invalid If-Match header.")
    assert state(server, folder) == before


def test_a_unique_file_name_is_a_new_path_to_the_conditions(client: ImageKit, folder: str) -> None:
    put(client, b"x", folder, "u.txt")
    # useUniqueFileName=true (the default) never names the file already at u.txt.
    with pytest.raises(imagekitio.APIStatusError) as refused:
        client.files.upload(
            file=b"y", file_name="u.txt", folder=folder, extra_headers={"If-Match": "*"}
        )
    assert refused.value.status_code == 412
    created = client.files.upload(
        file=b"y", file_name="u.txt", folder=folder, extra_headers={"If-None-Match": "*"}
    )
    assert created.name != "u.txt" and created.version_info.name == "Version 1"
    # Both conditions can never hold together.
    for name in ("u.txt", "new.txt"):
        with pytest.raises(imagekitio.APIStatusError) as refused:
            put(client, b"z", folder, name, extra_headers={"If-Match": "*", "If-None-Match": "*"})
        assert refused.value.status_code == 412
    with pytest.raises(imagekitio.BadRequestError) as refused:
        put(client, b"x", folder, extra_headers={"If-None-Match": '"abc"'})
    assert refused.value.body["message"].startswith("Your request contains invalid If-None-Match")
    assert sorted(a.name for a in client.assets.list(path=folder)) == sorted(
        ["u.txt", created.name]
    )


def test_if_none_match_star_creates_only(
    client: ImageKit, folder: str, server: ServerProcess
) -> None:
    created = put(client, b"one", folder, "c.txt", extra_headers={"If-None-Match": "*"})
    assert created.version_info.name == "Version 1"
    with pytest.raises(imagekitio.APIStatusError) as refused:
        put(client, b"two", folder, "c.txt", extra_headers={"If-None-Match": "*"})
    assert refused.value.status_code == 412
    assert refused.value.body["message"] == (
        f"A file already exists at this path: its current version is {created.version_info.id}."
    )
    assert version_count(server, f"{folder}/c.txt") == 1


# --- the races -----------------------------------------------------------------------------


def at_once(count: int, task: Callable[[int], Any]) -> list[Any]:
    """Run `task(n)` on `count` threads released together; their results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = task(n)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_writers_with_the_same_if_match_one_wins(
    server: ServerProcess, folder: str, client: ImageKit
) -> None:
    for round_ in range(4):
        name = f"race{round_}.txt"
        first = put(client, b"base", folder, name)
        expected = if_match(first.version_info.id)

        def upload(n: int, name: str = name, expected: dict[str, str] = expected) -> Any:
            own = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
            return put(own, f"writer {n}".encode(), folder, name, extra_headers=expected)

        results = at_once(2, upload)
        wins = [r for r in results if not isinstance(r, Exception)]
        losses = [r for r in results if isinstance(r, imagekitio.APIStatusError)]
        assert len(wins) == 1 and len(losses) == 1, results
        assert losses[0].status_code == 412
        assert losses[0].body["message"] == stale_message(first.version_info.id)
        assert version_count(server, f"{folder}/{name}") == 2
        current = client.files.get(first.file_id)
        assert current.version_info.id == wins[0].version_info.id


def test_two_restores_with_the_same_if_match_one_wins(
    server: ServerProcess, folder: str, client: ImageKit
) -> None:
    subject = Subject(client, folder)
    third = put(client, b"third", folder, subject.name)

    def restore(n: int) -> Any:
        own = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        target = (subject.v1, subject.v2)[n]
        return own.files.versions.restore(
            target, file_id=subject.file_id, extra_headers=if_match(third.version_info.id)
        )

    results = at_once(2, restore)
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, imagekitio.APIStatusError)]
    assert len(wins) == 1 and [e.status_code for e in losses] == [412], results
    assert client.files.get(subject.file_id).version_info.id == wins[0].version_info.id


def test_the_same_idempotency_key_at_once_runs_one_request(
    server: ServerProcess, folder: str, client: ImageKit
) -> None:
    for round_ in range(4):
        key = {"Idempotency-Key": uuid.uuid4().hex}
        name = f"same{round_}.txt"
        put(client, b"base", folder, name)

        def upload(n: int, name: str = name, key: dict[str, str] = key) -> Any:
            own = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
            return own.files.with_raw_response.upload(
                file=b"the same bytes",
                file_name=name,
                folder=folder,
                use_unique_file_name=False,
                extra_headers=key,
            )

        results = at_once(2, upload)
        done = [r for r in results if not isinstance(r, Exception)]
        busy = [r for r in results if isinstance(r, imagekitio.ConflictError)]
        assert len(done) + len(busy) == 2, results
        assert [r.headers.get("idempotent-replayed") for r in done].count(None) == 1
        for refused in busy:
            assert refused.response.headers["x-should-retry"] == "true"
        if len(done) == 2:
            assert done[0].parse().version_info.id == done[1].parse().version_info.id
        assert version_count(server, f"{folder}/{name}") == 2


# --- Idempotent retries ----------------------------------------------------------------------


def test_an_sdk_upload_retried_with_its_key_is_stored_once(
    client: ImageKit, folder: str, server: ServerProcess
) -> None:
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    put(client, b"v1", folder, "r.txt")

    def upload() -> Any:
        # Each call builds a new multipart body, with a new boundary, as a retry does.
        return client.files.with_raw_response.upload(
            file=b"v2 bytes",
            file_name="r.txt",
            folder=folder,
            use_unique_file_name=False,
            tags=["a", "b"],
            extra_headers=key,
        )

    first, second = upload(), upload()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.http_response.content == first.http_response.content
    assert second.parse().version_info.name == "Version 2"
    assert version_count(server, f"{folder}/r.txt") == 2

    # The same form by hand, with another boundary and the parts in another order.
    form = {
        "useUniqueFileName": "false",
        "tags": "a,b",
        "folder": folder,
        "fileName": "r.txt",
    }
    boundary = "another-boundary-" + uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form.items()
    )
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"v2 bytes\r\n"
        + body
        + f"--{boundary}--\r\n".encode()
    )
    by_hand = httpx.post(
        f"{server.base_url}/api/v1/files/upload",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}", **key},
        auth=AUTH,
    )
    assert by_hand.status_code == 200 and by_hand.headers["idempotent-replayed"] == "true"
    assert by_hand.content == first.http_response.content
    assert version_count(server, f"{folder}/r.txt") == 2


def test_the_same_key_with_another_request_is_a_422(
    client: ImageKit, folder: str, server: ServerProcess
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    put(client, b"one", folder, "k.txt", extra_headers=key)
    message = (
        "This Idempotency-Key was already used with a different request. "
        "Use a new key for a new request."
    )
    for other in (
        lambda: put(client, b"other bytes", folder, "k.txt", extra_headers=key),
        lambda: put(client, b"one", folder, "k.txt", tags=["extra"], extra_headers=key),
        lambda: client.folders.create(
            folder_name="x", parent_folder_path=folder, extra_headers=key
        ),
    ):
        with pytest.raises(imagekitio.UnprocessableEntityError) as refused:
            other()
        assert refused.value.body == {
            "message": message,
            "help": "See docs/errors.md in the mediavault documentation.",
        }
    assert version_count(server, f"{folder}/k.txt") == 1
    assert [a.name for a in client.assets.list(path=folder)] == ["k.txt"]


def test_json_writes_replay_their_first_answer(
    client: ImageKit, folder: str, server: ServerProcess
) -> None:
    subject = Subject(client, folder)

    def twice(call: Callable[[dict[str, str]], Any]) -> tuple[Any, Any]:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return call(key), call(key)

    # A copy onto a same-named file appends a version each time: replayed, only once.
    twice(
        lambda h: client.files.with_raw_response.copy(
            source_file_path=subject.path, destination_path=folder + "/c", extra_headers=h
        )
    )
    first, again = twice(
        lambda h: client.files.with_raw_response.copy(
            source_file_path=subject.path, destination_path=folder + "/c", extra_headers=h
        )
    )
    assert first.status_code == again.status_code == 204
    assert again.headers["idempotent-replayed"] == "true"
    assert version_count(server, f"{folder}/c/{subject.name}") == 2

    first, again = twice(
        lambda h: client.files.bulk.with_raw_response.add_tags(
            file_ids=[subject.file_id], tags=["added"], extra_headers=h
        )
    )
    assert (
        again.headers["idempotent-replayed"] == "true"
        and again.http_response.content == first.http_response.content
    )

    first, again = twice(
        lambda h: client.folders.with_raw_response.create(
            folder_name="made", parent_folder_path=folder, extra_headers=h
        )
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"

    # Once deleted, a plain repeat would be a 404: the replay is the first answer.
    first, again = twice(
        lambda h: client.files.bulk.with_raw_response.delete(
            file_ids=[subject.file_id], extra_headers=h
        )
    )
    assert again.status_code == 200 and again.http_response.content == first.http_response.content
    assert again.headers["idempotent-replayed"] == "true"

    first, again = twice(
        lambda h: client.folders.with_raw_response.delete(
            folder_path=folder + "/made", extra_headers=h
        )
    )
    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers["idempotent-replayed"] == "true"
    check_invariants(server)


def test_a_refusal_is_replayed_too(client: ImageKit, folder: str, server: ServerProcess) -> None:
    subject = Subject(client, folder)
    headers = {**if_match(subject.v1), "Idempotency-Key": uuid.uuid4().hex}
    answers = [
        httpx.put(
            f"{server.base_url}/v1/files/rename",
            json={"filePath": subject.path, "newFileName": "n.txt"},
            headers=headers,
            auth=AUTH,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [412, 412]
    assert "idempotent-replayed" not in answers[0].headers
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert (
        answers[1].json()
        == answers[0].json()
        == {
            "message": stale_message(subject.v1),
            "help": "See docs/errors.md in the mediavault documentation.",
        }
    )


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, "cl\u00e9".encode("latin-1"), b"tab\there"], ids=repr
)
def test_a_malformed_idempotency_key_is_a_400(
    server: ServerProcess, folder: str, key: bytes
) -> None:
    answer = httpx.post(
        f"{server.base_url}/v1/folder",
        json={"folderName": "x", "parentFolderPath": folder},
        headers=[(b"Idempotency-Key", key)],
        auth=AUTH,
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith(
        "Your request contains invalid Idempotency-Key header."
    )


def test_a_key_of_255_printable_characters_is_accepted(server: ServerProcess, folder: str) -> None:
    key = ("k ~!" * 64)[:255]
    answers = [
        httpx.post(
            f"{server.base_url}/v1/folder",
            json={"folderName": "x", "parentFolderPath": folder},
            headers={"Idempotency-Key": key},
            auth=AUTH,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[1].headers["idempotent-replayed"] == "true"


# --- a server of its own: short-lived keys, faults, dead owners --------------------------------


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        data=tmp_path_factory.mktemp("idem") / "data",
        port=free_port(),
        env={
            "MEDIAVAULT_IDEMPOTENCY_HOURS": str(3 / 3600),  # three seconds
            "MEDIAVAULT_COLLECT_INTERVAL_SECONDS": "1",
        },
    )
    yield process.start()
    process.stop()


def test_a_key_may_be_used_again_once_expired_and_the_collector_removes_it(
    short_lived: ServerProcess,
) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=short_lived.base_url, max_retries=0)
    key = {"Idempotency-Key": "expiring-" + uuid.uuid4().hex}

    def upload() -> Any:
        return client.files.with_raw_response.upload(
            file=b"same", file_name="x.txt", use_unique_file_name=False, extra_headers=key
        )

    first, replayed = upload(), upload()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.parse().version_info.id == first.parse().version_info.id
    time.sleep(3.5)
    again = upload()
    assert "idempotent-replayed" not in again.headers
    assert again.parse().version_info.name == "Version 2"
    assert version_count(short_lived, "/x.txt") == 2
    deadline = time.monotonic() + 15
    while sql(short_lived, "SELECT count(*) FROM idempotency_keys")[0][0] != 0:
        assert time.monotonic() < deadline, "the collector left expired keys"
        time.sleep(0.5)


def test_a_server_error_releases_the_key(short_lived: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=short_lived.base_url, max_retries=0)
    uploaded = put(client, b"t", "/faults", "t.txt")
    key = {"Idempotency-Key": "fault-" + uuid.uuid4().hex}

    def add_tags() -> Any:
        return client.files.bulk.with_raw_response.add_tags(
            file_ids=[uploaded.file_id], tags=["t"], extra_headers=key
        )

    execute_sql(short_lived, "ALTER TABLE version_tags RENAME TO version_tags_gone")
    try:
        with pytest.raises(imagekitio.InternalServerError):
            add_tags()
    finally:
        execute_sql(short_lived, "ALTER TABLE version_tags_gone RENAME TO version_tags")
    retried = add_tags()
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert client.files.get(uploaded.file_id).tags == ["t"]


def test_a_claim_left_by_a_dead_process_is_taken_over(short_lived: ServerProcess) -> None:
    client = ImageKit(private_key=TEST_KEY, base_url=short_lived.base_url, max_retries=0)
    key = "orphan-" + uuid.uuid4().hex
    now = int(time.time() * 1000)
    # Owner 1 never registered: a process that died while running the first request.
    execute_sql(
        short_lived,
        "INSERT INTO idempotency_keys (key, request_digest, owner, created_at, expires_at)"
        f" VALUES ('{key}', '{'0' * 64}', 1, {now}, {now + 3_600_000})",
    )
    created = client.folders.with_raw_response.create(
        folder_name="orphan", parent_folder_path="/", extra_headers={"Idempotency-Key": key}
    )
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers


@pytest.mark.parametrize(("same_request", "status"), [(True, 409), (False, 422)])
def test_a_running_claim_of_a_live_process_refuses_the_key(
    short_lived: ServerProcess, same_request: bool, status: int
) -> None:
    owner = _live_owner(short_lived)
    key = "busy-" + uuid.uuid4().hex
    body = b'{"folderName": "busy", "parentFolderPath": "/"}'
    digest = request_digest("POST", "/v1/folder", body_meaning(body if same_request else b"{}"))
    now = int(time.time() * 1000)
    execute_sql(
        short_lived,
        "INSERT INTO idempotency_keys (key, request_digest, owner, created_at, expires_at)"
        f" VALUES ('{key}', '{digest}', {owner}, {now}, {now + 3_600_000})",
    )
    answer = httpx.post(
        f"{short_lived.base_url}/v1/folder",
        content=body,
        headers={"Idempotency-Key": key, "content-type": "application/json"},
        auth=AUTH,
    )
    assert answer.status_code == status
    if same_request:  # the first request still runs: retrying later replays its answer
        assert answer.headers["x-should-retry"] == "true"
    assert [a.name for a in ImageKit(private_key=TEST_KEY, base_url=short_lived.base_url)
            .assets.list(path="/") if a.name == "busy"] == []  # fmt: skip


def _live_owner(server: ServerProcess) -> int:
    """The liveness owner number of the server's worker."""
    if server.settings.resolved_database_url.startswith("sqlite"):
        folder = Path(str(server.settings.resolved_database_url).removeprefix("sqlite:///"))
        locks = list(folder.parent.joinpath(folder.name + ".processes").glob("*.lock"))
        return int(locks[0].stem)
    rows = sql(
        server,
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    return int(rows[0][0])
