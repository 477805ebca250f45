"""Retention policies end to end: CRUD, preview, `mediavault retention apply`, the periodic
applier, and retention racing uploads. Uploads and versions through the official SDK; the new
routes (not in ImageKit's API) through httpx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from imagekitio import ImageKit

from mediavault.storage.database import create_engine
from tests.support import (
    TEST_KEY,
    ServerProcess,
    blob_files,
    check_invariants,
    free_port,
)

DAY_MS = 86_400_000


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60)


def upload(client: ImageKit, content: bytes, folder: str, name: str = "doc.txt") -> Any:
    return client.files.upload(
        file=content, file_name=name, folder=folder, use_unique_file_name=False
    )


def version_ids(client: ImageKit, file_id: str) -> list[str]:
    """Current first, then newest number first."""
    return [v.version_info.id for v in client.files.versions.list(file_id)]  # type: ignore[union-attr]


def execute(server: ServerProcess, statement: str, **values: Any) -> list[Any]:
    """Run SQL on the server's database, committed (to age versions, to read history)."""
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement), values)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def age(server: ServerProcess, version_id: str, days: float) -> None:
    created = int(time.time() * 1000) - int(days * DAY_MS)
    execute(server, "UPDATE versions SET created_at = :t WHERE id = :id", t=created, id=version_id)


def retention_events(server: ServerProcess, file_id: str) -> list[tuple[str, Any]]:
    rows = execute(
        server,
        "SELECT version_id, details FROM file_events WHERE file_id = :f AND type = "
        "'retention.applied' ORDER BY seq",
        f=file_id,
    )
    # A JSON column read through plain SQL: text on SQLite, decoded on PostgreSQL.
    return [(row[0], json.loads(row[1]) if isinstance(row[1], str) else row[1]) for row in rows]


@pytest.fixture
def policies(server: ServerProcess) -> Iterator[httpx.Client]:
    """An API client; the policies a test creates are deleted after it, so that a later
    `retention apply` on the shared server does not act on them."""
    with api(server) as http:
        before = {p["id"] for p in http.get("/v1/retentionPolicies").json()}
        yield http
        for policy in http.get("/v1/retentionPolicies").json():
            if policy["id"] not in before:
                http.delete(f"/v1/retentionPolicies/{policy['id']}")


def test_a_policy_is_created_listed_refused_twice_and_deleted(
    policies: httpx.Client, folder: str
) -> None:
    thin = [{"olderThanDays": 30, "keepOnePer": "week"}, {"olderThanDays": 7, "keepOnePer": "day"}]
    created = policies.post(
        "/v1/retentionPolicies",
        json={"folderPath": folder, "keepLast": 10, "keepDays": 90, "thin": thin},
    )
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["folderPath"] == f"{folder}/"
    assert (policy["keepLast"], policy["keepDays"]) == (10, 90)
    assert policy["thin"] == sorted(thin, key=lambda r: r["olderThanDays"])
    assert len(policy["id"]) == 24 and policy["createdAt"].endswith("Z")

    listed = policies.get("/v1/retentionPolicies").json()
    assert policy in listed

    # One policy per folder, however the folder is spelled.
    again = policies.post("/v1/retentionPolicies", json={"folderPath": f"{folder}/", "keepDays": 1})
    assert again.status_code == 409
    assert again.json()["message"].startswith("This folder already has a retention policy.")
    assert again.headers["x-should-retry"] == "false"

    only_days = policies.post(
        "/v1/retentionPolicies", json={"folderPath": f"{folder}/sub", "keepDays": 3}
    )
    assert only_days.status_code == 201
    assert "keepLast" not in only_days.json() and "thin" not in only_days.json()

    assert policies.delete(f"/v1/retentionPolicies/{policy['id']}").status_code == 204
    gone = policies.delete(f"/v1/retentionPolicies/{policy['id']}")
    assert gone.status_code == 404
    assert gone.json() == {
        "message": "The requested retention policy does not exist.",
        "help": "See docs/errors.md in the mediavault documentation.",
    }
    assert policies.delete("/v1/retentionPolicies/not-an-id").status_code == 404
    assert policies.post(f"/v1/retentionPolicies/{'0' * 24}/preview").status_code == 404
    assert policy not in policies.get("/v1/retentionPolicies").json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"folderPath": "/x"},
            "A retention policy needs at least one of keepLast, keepDays, thin.",
        ),
        ({"keepLast": 2}, "Your request is missing folderPath parameter, or it is not a string."),
        ({"folderPath": "/x", "keepLast": 0}, "keepLast must be an integer from 1 to 1000."),
        ({"folderPath": "/x", "keepLast": "3"}, "keepLast must be an integer from 1 to 1000."),
        ({"folderPath": "/x", "keepDays": 0}, "keepDays must be an integer from 1 to 36500."),
        ({"folderPath": "/x", "thin": []}, "thin must be an array of 1 to 10 rules."),
        (
            {"folderPath": "/x", "thin": [{"olderThanDays": 7, "keepOnePer": "year"}]},
            'thin: keepOnePer must be "day" or "week".',
        ),
        (
            {"folderPath": "/x", "keepLast": 2, "keep": 1},
            "Your request contains unknown parameters: keep.",
        ),
    ],
)
def test_invalid_policies_are_400s_with_a_clear_message(
    policies: httpx.Client, body: dict[str, Any], message: str
) -> None:
    refused = policies.post("/v1/retentionPolicies", json=body)
    assert refused.status_code == 400
    assert refused.json()["message"] == message
    assert refused.json()["help"]


def test_policy_routes_need_the_private_key(server: ServerProcess) -> None:
    anonymous = httpx.Client(base_url=server.base_url)
    assert anonymous.get("/v1/retentionPolicies").status_code == 401
    assert (
        anonymous.post("/v1/retentionPolicies", json={"folderPath": "/", "keepLast": 1}).status_code
        == 401
    )
    assert anonymous.post(f"/v1/retentionPolicies/{'0' * 24}/preview").status_code == 401


def _five_versions(client: ImageKit, folder: str) -> tuple[str, list[str]]:
    """v1..v5 with contents a, b, a, b, c: v1/v3 share a blob, v2/v4 another. The contents
    are the test's own (blobs are shared by content across the library); `a` is 100 bytes."""
    a, b, c = (f"{folder} {letter}".encode().ljust(100, b".") for letter in "abc")
    contents = [a, b, a, b, c]
    file_id = ""
    for content in contents:
        file_id = upload(client, content, folder).file_id
    ids = version_ids(client, file_id)
    assert len(ids) == 5
    return file_id, list(reversed(ids))  # v1 first


def test_preview_lists_exactly_what_would_go_and_changes_nothing(
    client: ImageKit, policies: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id, (v1, v2, v3, v4, v5) = _five_versions(client, folder)
    policy = policies.post(
        "/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 2}
    ).json()
    blobs_before = blob_files(data)
    versions_before = [v.model_dump() for v in client.files.versions.list(file_id)]

    preview = policies.post(f"/v1/retentionPolicies/{policy['id']}/preview")
    assert preview.status_code == 200
    body = preview.json()
    assert body["wouldDelete"] == [
        {"fileId": file_id, "versionId": v, "versionName": f"Version {n}",
         "reason": "not among the last 2 versions"}
        for v, n in ((v3, 3), (v2, 2), (v1, 1))
    ]  # fmt: skip
    # a would lose its last references (v1, v3); b stays referenced by v4.
    assert body["bytesFreed"] == 100

    assert [v.model_dump() for v in client.files.versions.list(file_id)] == versions_before
    assert blob_files(data) == blobs_before
    assert retention_events(data, file_id) == []
    assert {v4, v5} <= set(version_ids(client, file_id))


def test_cli_dry_run_prints_and_changes_nothing_and_apply_deletes_with_history(
    client: ImageKit, policies: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id, (v1, v2, v3, v4, v5) = _five_versions(client, folder)
    policy = policies.post(
        "/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 2}
    ).json()
    blobs_before = blob_files(data)

    dry = data.cli("retention", "apply", "--dry-run")
    mine = [line for line in dry.splitlines() if file_id in line]
    assert mine == [
        f"would delete {file_id} {v} Version {n} (policy {policy['id']}: not among the last 2 versions)"
        for v, n in ((v3, 3), (v2, 2), (v1, 1))
    ]
    assert "freeing" in dry.splitlines()[-1]
    assert version_ids(client, file_id) == [v5, v4, v3, v2, v1]
    assert blob_files(data) == blobs_before

    applied = data.cli("retention", "apply")
    assert [line for line in applied.splitlines() if file_id in line] == [
        line.replace("would delete", "deleted", 1) for line in mine
    ]
    assert version_ids(client, file_id) == [v5, v4]
    events = retention_events(data, file_id)
    assert [version for version, _ in events] == [v3, v2, v1]
    assert all(
        details == {"policyId": policy["id"], "reason": "not among the last 2 versions"}
        for _, details in events
    )
    # The blob of a went; b and c stay.
    assert len(blob_files(data)) == len(blobs_before) - 1
    # Applying again deletes nothing more.
    assert [line for line in data.cli("retention", "apply").splitlines() if file_id in line] == []
    check_invariants(data)


def test_the_deepest_folders_policy_governs_a_file(
    client: ImageKit, policies: httpx.Client, folder: str
) -> None:
    deep = [upload(client, f"deep {n}".encode(), f"{folder}/b/c") for n in range(3)][-1]
    shallow = [upload(client, f"shallow {n}".encode(), f"{folder}/x") for n in range(3)][-1]
    outer = policies.post(
        "/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 1}
    ).json()
    inner = policies.post(
        "/v1/retentionPolicies", json={"folderPath": f"{folder}/b", "keepLast": 2}
    ).json()

    outer_plan = policies.post(f"/v1/retentionPolicies/{outer['id']}/preview").json()
    inner_plan = policies.post(f"/v1/retentionPolicies/{inner['id']}/preview").json()
    assert {item["fileId"] for item in outer_plan["wouldDelete"]} == {shallow.file_id}
    assert len(outer_plan["wouldDelete"]) == 2
    assert [item["versionName"] for item in inner_plan["wouldDelete"]] == ["Version 1"]
    assert {item["fileId"] for item in inner_plan["wouldDelete"]} == {deep.file_id}


def test_keep_days_and_thinning_act_on_version_ages(
    client: ImageKit, policies: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id = ""
    for n in range(6):
        file_id = upload(client, f"v{n + 1}".encode(), folder).file_id
    _, v5, v4, v3, v2, v1 = version_ids(client, file_id)
    # v1, v2: 40 and 40.01 days old (one ISO week, or two at a week's edge); v3: 20 days;
    # v4: 20.01 days (same UTC day as v3 unless that day just turned); v5: 2 days; v6 current.
    for version, days in ((v1, 40.01), (v2, 40), (v3, 20), (v4, 19.99), (v5, 2)):
        age(data, version, days)
    policy = policies.post(
        "/v1/retentionPolicies",
        json={"folderPath": folder, "keepDays": 10, "thin": [{"olderThanDays": 30, "keepOnePer": "week"}]},
    ).json()  # fmt: skip
    plan = policies.post(f"/v1/retentionPolicies/{policy['id']}/preview").json()
    removed = {item["versionId"]: item["reason"] for item in plan["wouldDelete"]}
    # v3, v4 (20 days) are not in the thinning band (older than 30 days) and so kept by thin;
    # keepDays keeps v5. In the band, v2 is the newest of its week: only v1 can go.
    if _iso_week(40) == _iso_week(40.01):
        assert list(removed) == [v1]
        assert removed[v1].startswith("older than 10 days; a newer version of ISO week ")
    else:  # a week began in the quarter of an hour between them: each is its week's newest
        assert removed == {}


def _iso_week(days_ago: float) -> tuple[int, int]:
    import datetime as dt

    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    year, week, _ = moment.isocalendar()
    return year, week


def test_the_current_version_is_never_removed_even_when_restored_and_old(
    client: ImageKit, policies: httpx.Client, folder: str, data: ServerProcess
) -> None:
    file_id = ""
    for n in range(3):
        file_id = upload(client, f"old {n}".encode(), folder).file_id
    v3, v2, v1 = version_ids(client, file_id)
    client.files.versions.restore(v1, file_id=file_id)  # the oldest becomes current
    for version in (v1, v2, v3):
        age(data, version, 400)
    policies.post("/v1/retentionPolicies", json={"folderPath": folder, "keepDays": 1})
    data.cli("retention", "apply")
    assert version_ids(client, file_id) == [v1]
    assert client.files.get(file_id).version_info.id == v1  # type: ignore[union-attr]
    check_invariants(data)


def test_the_periodic_applier_applies_policies_and_records_history(
    tmp_path: Path, client: ImageKit
) -> None:
    server = ServerProcess(
        data=tmp_path / "data",
        port=free_port(),
        env={"MEDIAVAULT_RETENTION_INTERVAL_SECONDS": "1"},
    ).start()
    try:
        sdk = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        file_id = ""
        for n in range(3):
            file_id = upload(sdk, f"periodic {n}".encode(), "/kept").file_id
        v3, v2, v1 = version_ids(sdk, file_id)
        with api(server) as http:
            policy = http.post(
                "/v1/retentionPolicies", json={"folderPath": "/kept", "keepLast": 1}
            ).json()
        deadline = time.monotonic() + 60  # runs every 0.5 to 1.5 s; a loaded machine is slow
        while len(version_ids(sdk, file_id)) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert version_ids(sdk, file_id) == [v3]
        events = retention_events(server, file_id)
        assert sorted(version for version, _ in events) == sorted([v1, v2])
        assert all(details["policyId"] == policy["id"] for _, details in events)
        assert all(details["reason"] == "not among the last 1 versions" for _, details in events)
    finally:
        server.stop()
    check_invariants(server)


def test_retention_racing_uploads_never_removes_a_current_version(
    server: ServerProcess, policies: httpx.Client, folder: str
) -> None:
    """Threads upload new versions of a few files while `retention apply` runs again and
    again: afterwards each file's current version is its last acknowledged upload, exactly
    one version is current, and the library is consistent."""
    clients = [
        ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0) for _ in range(3)
    ]
    names = [f"race{n}.txt" for n in range(3)]
    last: dict[str, str] = {}
    file_ids: dict[str, str] = {}
    for name in names:
        for n in range(4):  # so that the first apply already has versions to delete
            seeded = upload(clients[0], f"start {name} {n}".encode(), folder, name)
        file_ids[name] = seeded.file_id
        last[name] = seeded.version_info.id
    policies.post("/v1/retentionPolicies", json={"folderPath": folder, "keepLast": 2})
    stop = threading.Event()
    failures: list[BaseException] = []

    def uploader(index: int) -> None:
        # Until told to stop, at most 90 versions: within the 100-version limit with the 4
        # seeded ones, even if retention never ran. Paced, so that uploads are still arriving
        # when a slow `retention apply` (a loaded machine) finishes.
        name, sdk = names[index], clients[index]
        try:
            for n in range(90):
                if stop.is_set():
                    return
                done = upload(sdk, f"{name} {n}".encode(), folder, name)
                last[name] = done.version_info.id
                time.sleep(0.2)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=uploader, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    deleted_while_uploading = runs = 0
    try:
        while runs < 2 or (deleted_while_uploading == 0 and any(t.is_alive() for t in threads)):
            output = server.cli("retention", "apply")
            runs += 1
            if any(thread.is_alive() for thread in threads):
                deleted_while_uploading += sum(
                    line.startswith("deleted ") for line in output.splitlines()
                )
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not failures, failures
    assert deleted_while_uploading > 0, f"no deletion while uploads arrived in {runs} runs"
    for name in names:
        listed = clients[0].files.versions.list(file_ids[name])
        current = [v.version_info.id for v in listed if v.type == "file"]  # type: ignore[union-attr]
        assert current == [last[name]], name
    check_invariants(server)
