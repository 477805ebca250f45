"""Many workers on one library, and moving a library between backends."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import imagekitio
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port


def sdk(server: ServerProcess) -> ImageKit:
    return ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0, timeout=120)


def test_64_concurrent_uploads_with_restores_and_deletes_over_4_workers(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port(), workers=4).start()
    try:
        assert len(server.worker_pids()) == 4
        client = sdk(server)
        first = client.files.upload(
            file=b"seed", file_name="hot.txt", folder="/race", use_unique_file_name=False
        )
        file_id = first.file_id
        acknowledged: list[tuple[str, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def upload(i: int) -> None:
            result = sdk(server).files.upload(
                file=f"upload {i}".encode(),
                file_name="hot.txt",
                folder="/race",
                use_unique_file_name=False,
            )
            assert result.file_id == file_id
            with lock:
                acknowledged.append((result.version_info.id, result.version_info.name))

        def churn(seed: int) -> None:
            rng, c = random.Random(seed), sdk(server)
            while not stop.is_set():
                versions = c.files.versions.list(file_id)
                target = rng.choice(versions).version_info.id
                try:
                    if rng.random() < 0.5:
                        c.files.versions.restore(target, file_id=file_id)
                    else:
                        c.files.versions.delete(target, file_id=file_id)
                except imagekitio.APIStatusError as exc:
                    # Current version, or already deleted by another thread: both are fine.
                    assert exc.status_code in (400, 404), exc.body

        with ThreadPoolExecutor(72) as pool:
            churners = [pool.submit(churn, seed) for seed in range(8)]
            list(pool.map(upload, range(64)))
            stop.set()
            for churner in churners:
                churner.result()

        assert len(acknowledged) == 64
        assert len({v for v, _ in acknowledged}) == 64
        assert len({n for _, n in acknowledged}) == 64
        remaining = client.files.versions.list(file_id)
        assert [v.type for v in remaining].count("file") == 1
        assert {v.version_info.id for v in remaining} <= {v for v, _ in acknowledged} | {file_id}
        for version in remaining:
            assert httpx.get(version.url).status_code == 200
        check_invariants(server)
    finally:
        server.stop()


def test_export_from_the_embedded_default_and_import_keeps_everything(tmp_path: Path) -> None:
    source_data = tmp_path / "source"
    embedded = {
        "MEDIAVAULT_DATABASE_URL": f"sqlite:///{source_data / 'mediavault.sqlite3'}",
        "MEDIAVAULT_BLOB_URL": (source_data / "blobs").as_uri(),
    }
    source = ServerProcess(data=source_data, port=free_port(), env=embedded).start()
    client = sdk(source)
    client.custom_metadata_fields.create(name="brand", label="Brand", schema={"type": "Text"})
    for i in range(3):
        client.files.upload(
            file=f"version {i}".encode(),
            file_name="moved.txt",
            folder="/a/b",
            use_unique_file_name=False,
            custom_metadata={"brand": f"b{i}"},
            tags=[f"t{i}"],
        )
    other = client.files.upload(file=b"other", file_name="other.txt", is_private_file=True)
    client.folders.create(folder_name="empty", parent_folder_path="/")
    before = {
        item.file_id: [v.to_dict() for v in client.files.versions.list(item.file_id)]
        for item in client.assets.list()
    }
    export = tmp_path / "export"
    source.cli("export", str(export), "--data", str(source_data))
    source.stop()

    # The target runs on the suite's backends: PostgreSQL + S3 in CI's second run.
    target = ServerProcess(data=tmp_path / "target", port=free_port())
    target.start().stop()
    target.cli("import", str(export), "--data", str(tmp_path / "target"))
    target.port = free_port()
    target.start()
    try:
        moved = sdk(target)
        after = {
            item.file_id: [v.to_dict() for v in moved.files.versions.list(item.file_id)]
            for item in moved.assets.list()
        }
        assert set(after) == set(before) and other.file_id in after
        for file_id, versions in before.items():
            assert [_portable(v) for v in after[file_id]] == [_portable(v) for v in versions]
        for version in moved.files.versions.list(next(iter(before))):
            expected = f"version {int(version.version_info.name.split()[1]) - 1}".encode()
            assert httpx.get(version.url).content == expected
        assert {f.name for f in moved.custom_metadata_fields.list()} == {"brand"}
        assert "empty" in {f.name for f in moved.assets.list(type="folder")}
        check_invariants(target)
    finally:
        target.stop()


def _portable(version: dict[str, object]) -> dict[str, object]:
    """A version minus its URLs, which name the serving host and port."""
    return {k: v for k, v in version.items() if k not in ("url", "thumbnail")}
