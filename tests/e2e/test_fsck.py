"""`mediavault fsck`: finds what is wrong, repairs only garbage, exits 0 only when clean."""

from __future__ import annotations

from pathlib import Path

from imagekitio import ImageKit

from mediavault.wiring import build_blob_store
from tests.support import TEST_KEY, ServerProcess, free_port


def test_fsck_reports_repairs_garbage_and_never_touches_referenced_data(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    kept = client.files.upload(file=b"precious bytes", file_name="kept.txt")
    server.stop()
    data = ["--data", str(server.data)]
    clean = server.cli_result("fsck", *data)
    assert clean.returncode == 0 and clean.stdout.strip().endswith("clean")

    store = build_blob_store(server.settings)
    orphan = store.stage(100)
    orphan.write(b"bytes of a request that failed after publishing")
    orphan_blob = orphan.finish()
    store.publish(orphan_blob, overwrite=False)
    leftover = store.stage(100)
    leftover.write(b"an upload a crash interrupted")
    leftover.finish()

    found = server.cli_result("fsck", *data)
    assert found.returncode == 1
    assert f"problem: blob nothing references: {orphan_blob.digest}" in found.stdout
    assert "problem: 1 staging objects left by interrupted uploads" in found.stdout

    repaired = server.cli_result("fsck", "--repair", *data)
    assert repaired.returncode == 0, repaired.stdout
    assert "repaired: removed 1 unreferenced blobs" in repaired.stdout
    assert store.size(orphan_blob.digest) is None and store.staging_count() == 0
    assert server.cli_result("fsck", *data).returncode == 0

    # A referenced blob that went missing is reported, and repair does not paper over it.
    digest = next(d for d, _ in store.digests())
    store.delete(digest)
    broken = server.cli_result("fsck", "--repair", *data)
    assert broken.returncode == 1
    assert f"problem: blob missing: {digest}" in broken.stdout
    assert kept.size == len(b"precious bytes")
