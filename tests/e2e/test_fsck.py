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

    # Owner 1 never registered: these are what a process that died left behind.
    store = build_blob_store(server.settings, owner=1)
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


def test_repair_refuses_while_a_server_works_on_the_library_and_plain_fsck_reports(
    tmp_path: Path,
) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        client.files.upload(file=b"live bytes", file_name="live.txt")
        # Bytes that look unreferenced, but belong to the live server's upload in flight.
        live = build_blob_store(server.settings, owner=_a_server_owner(server))
        in_flight = live.stage(100)
        in_flight.write(b"an upload the live server is still receiving")
        in_flight.finish()

        refused = server.cli_result("fsck", "--repair", "--data", str(server.data))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "fsck --repair refused" in refused.stderr
        assert "other mediavault processes" in refused.stderr
        assert live.staging_count() == 1  # nothing was touched

        checked = server.cli_result("fsck", "--data", str(server.data))
        assert checked.returncode == 0, checked.stdout
        assert "note: work in flight in live processes: 1 staging objects" in checked.stdout
    finally:
        server.stop()
    # With the server gone, its leftovers are provably abandoned, and repair may go ahead.
    repaired = server.cli_result("fsck", "--repair", "--data", str(server.data))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: removed 1 staging objects" in repaired.stdout
    assert live.staging_count() == 0


def _a_server_owner(server: ServerProcess) -> int:
    """The owner number one of the server's processes registered under."""
    from mediavault.wiring import build_stores

    stores = build_stores(server.settings)
    try:
        others = stores.liveness.others_alive()
    finally:
        stores.close()
    assert len(others) == 1, others
    return others[0]
