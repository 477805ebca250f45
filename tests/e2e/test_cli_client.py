"""The client commands (upload, ls, versions, restore, rm-version, download) against a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess

MEDIAVAULT = str(Path(sys.executable).parent / "mediavault")


def run(server: ServerProcess, *args: str, key: str = TEST_KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env |= {"MEDIAVAULT_URL": server.base_url, "MEDIAVAULT_PRIVATE_KEY": key}
    return subprocess.run([MEDIAVAULT, *args], env=env, capture_output=True, text=True, timeout=120)


def ok(server: ServerProcess, *args: str) -> str:
    done = run(server, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_folder_uploaded_twice_has_second_versions_listed_restored_and_downloaded(
    server: ServerProcess, client: ImageKit, folder: str, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    (photos / "a.txt").write_bytes(b"first a")
    (photos / "nested" / "b.txt").write_bytes(b"first b")

    uploaded = json.loads(ok(server, "upload", str(photos), "--folder", folder, "-r", "--json"))
    assert sorted(u["filePath"] for u in uploaded) == [
        f"{folder}/photos/a.txt",
        f"{folder}/photos/nested/b.txt",
    ]
    assert {u["versionInfo"]["name"] for u in uploaded} == {"Version 1"}

    (photos / "a.txt").write_bytes(b"second a, longer")
    again = ok(server, "upload", str(photos / "a.txt"), "--folder", f"{folder}/photos")
    assert f"{folder}/photos/a.txt  Version 2" in again

    listing = ok(server, "ls", f"{folder}/photos")
    assert listing.splitlines()[0] == "nested/"
    assert "a.txt  16  Version 2" in listing
    listed = json.loads(ok(server, "ls", f"{folder}/photos", "--json"))
    assert [item["name"] for item in listed] == ["nested", "a.txt"]

    path = f"{folder}/photos/a.txt"
    human = ok(server, "versions", path).splitlines()
    assert human[0].startswith("* Version 2") and human[1].startswith("  Version 1")
    versions = json.loads(ok(server, "versions", path, "--json"))
    assert [v["versionInfo"]["name"] for v in versions] == ["Version 2", "Version 1"]
    file_id = versions[0]["fileId"]
    assert json.loads(ok(server, "versions", file_id, "--json")) == versions

    restored = json.loads(ok(server, "restore", path, "Version 1", "--json"))
    assert restored["versionInfo"]["name"] == "Version 1"
    current = client.files.get(file_id)
    assert current.version_info is not None and current.version_info.name == "Version 1"
    out = tmp_path / "a-current.txt"
    ok(server, "download", path, "-o", str(out))
    assert out.read_bytes() == b"first a"
    ok(server, "download", file_id, "--version", "2", "-o", str(out))
    assert out.read_bytes() == b"second a, longer"

    ok(server, "rm-version", path, "2")
    assert [v.version_info.name for v in client.files.versions.list(file_id)] == ["Version 1"]  # type: ignore[union-attr]


def test_private_files_are_downloaded_by_a_signed_url(
    server: ServerProcess, client: ImageKit, folder: str, tmp_path: Path
) -> None:
    client.files.upload(
        file=b"secret", file_name="s.txt", folder=folder, is_private_file=True,
        use_unique_file_name=False,
    )  # fmt: skip
    assert httpx.get(f"{server.url_endpoint}{folder}/s.txt").status_code == 401
    out = tmp_path / "s.txt"
    info = json.loads(ok(server, "download", f"{folder}/s.txt", "-o", str(out), "--json"))
    assert out.read_bytes() == b"secret" and info["size"] == 6


def test_exit_codes_say_usage_not_found_and_refused(
    server: ServerProcess, folder: str, tmp_path: Path
) -> None:
    assert run(server, "versions", f"{folder}/nothing.txt").returncode == 2
    assert run(server, "versions", "0123456789abcdef01234567").returncode == 2
    assert run(server, "download", f"{folder}/none", "-o", str(tmp_path / "x")).returncode == 2
    (tmp_path / "d").mkdir()
    assert run(server, "upload", str(tmp_path / "d"), "--folder", folder).returncode == 1
    assert run(server, "ls", "--no-such-option").returncode == 1
    wrong = run(server, "ls", folder, key="private_wrong_key")
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "Error:" in wrong.stderr

    file = tmp_path / "one.txt"
    file.write_bytes(b"1")
    ok(server, "upload", str(file), "--folder", folder, "--no-progress")
    assert run(server, "restore", f"{folder}/one.txt", "Version 9").returncode == 2
