"""A real server process per test session, and the official ImageKit SDK pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, free_port, staging_count


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server")
    process = ServerProcess(data=root / "data", port=free_port()).start()
    declare_test_fields(ImageKit(private_key=TEST_KEY, base_url=process.base_url))
    yield process
    process.stop()


# Custom metadata the shared server's tests use; values of undeclared fields are refused.
TEST_FIELDS = {
    "brand": {"type": "Text"},
    "price": {"type": "Number"},
    "k": {"type": "Text"},
    "a": {"type": "Number"},
    "b": {"type": "Text"},
    "c": {"type": "Boolean"},
}


def declare_test_fields(client: ImageKit) -> None:
    for name, schema in TEST_FIELDS.items():
        client.custom_metadata_fields.create(name=name, label=name, schema=schema)  # type: ignore[arg-type]


@pytest.fixture
def client(server: ServerProcess) -> ImageKit:
    # No retries: a test must see the first answer, not a retried one.
    return ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)


@pytest.fixture
def folder() -> str:
    """A folder of its own for each test, so tests sharing a server never see each other."""
    return f"/t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def data(server: ServerProcess) -> ServerProcess:
    """The shared server as a library to inspect (blobs, database), whatever its backends."""
    return server


@pytest.fixture(autouse=True)
def no_upload_leaves_staging_files(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test sent, finished or refused, no staging file may outlive its request."""
    yield
    if "server" in request.fixturenames:
        server: ServerProcess = request.getfixturevalue("server")
        assert staging_count(server) == 0, "an upload left a staging object behind"
