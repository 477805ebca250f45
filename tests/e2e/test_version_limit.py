"""One version limit for every way versions arrive: upload, copy with versions, move.

A server of its own with a limit of 4, so that filling a file takes four uploads, not a hundred.
The rule lives in domain/versioning.py (ensure_room_for_version); each path must give the same
message, copy and move adding their `reason`, and must change nothing when refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imagekitio
import pytest
from imagekitio import ImageKit

from mediavault.api.errors import HELP
from tests.support import TEST_KEY, ServerProcess, check_invariants, free_port

LIMIT = 4
MESSAGE = f"A file can have a maximum of {LIMIT} versions."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageKit]:
    server = ServerProcess(
        data=tmp_path_factory.mktemp("limit") / "data",
        port=free_port(),
        env={"MEDIAVAULT_MAX_VERSIONS_PER_FILE": str(LIMIT)},
    ).start()
    yield ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
    check_invariants(server)
    server.stop()


def fill(client: ImageKit, folder: str, count: int) -> str:
    """`count` versions of `<folder>/f.txt`; returns the file id."""
    file_id = ""
    for n in range(count):
        uploaded = client.files.upload(
            file=f"{folder} {n}".encode(), file_name="f.txt", folder=folder,
            use_unique_file_name=False,
        )  # fmt: skip
        file_id = uploaded.file_id or ""
    return file_id


def history(client: ImageKit, file_id: str) -> list[str]:
    return [v.version_info.id for v in client.files.versions.list(file_id) if v.version_info]


def test_an_upload_beyond_the_limit(client: ImageKit) -> None:
    file_id = fill(client, "/upload", LIMIT)
    before = history(client, file_id)
    with pytest.raises(imagekitio.BadRequestError) as refused:
        fill(client, "/upload", 1)
    assert refused.value.body == {"message": MESSAGE, "help": HELP}
    assert history(client, file_id) == before


@pytest.mark.parametrize("operation", ["copy", "move"])
def test_an_append_beyond_the_limit(client: ImageKit, operation: str, tmp_path: Path) -> None:
    folder = f"/{operation}{tmp_path.name[-6:]}"
    target = fill(client, f"{folder}/to", LIMIT - 1)
    source = fill(client, f"{folder}/from", 2)  # one too many for the target
    target_before, source_before = history(client, target), history(client, source)
    with pytest.raises(imagekitio.BadRequestError) as refused:
        if operation == "copy":
            client.files.copy(source_file_path=f"{folder}/from/f.txt",
                              destination_path=f"{folder}/to", include_file_versions=True)  # fmt: skip
        else:
            client.files.move(source_file_path=f"{folder}/from/f.txt",
                              destination_path=f"{folder}/to")  # fmt: skip
    assert refused.value.body == {
        "message": MESSAGE,
        "help": HELP,
        "reason": "VERSION_LIMIT_EXCEEDED",
    }
    assert history(client, target) == target_before
    assert history(client, source) == source_before


def test_an_append_that_exactly_fills_the_file(client: ImageKit) -> None:
    target = fill(client, "/exact/to", LIMIT - 2)
    fill(client, "/exact/from", 2)
    client.files.move(source_file_path="/exact/from/f.txt", destination_path="/exact/to")
    assert len(history(client, target)) == LIMIT
