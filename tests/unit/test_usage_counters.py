"""The storage counters through the service layer: kept by the write transactions, left
untouched by a rolled-back one, equal to a recount; and migration 0006's backfill."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from mediavault.config import Settings
from mediavault.domain.versioning import UploadOptions
from mediavault.media.probe import probe
from mediavault.services import files, transfer, trash, uploads, usage
from mediavault.services.stores import Stores
from mediavault.storage.database import MIGRATIONS, create_sqlite_engine, migrate
from mediavault.storage.usage_queries import BLOBS_ROW, Usage
from mediavault.wiring import build_stores
from tests.backends import backend_env

SAME_PATH = UploadOptions(use_unique_file_name=False)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    built = build_stores(Settings.from_env(backend_env(), data=tmp_path))
    migrate(built.meta.engine)
    yield dataclasses.replace(built, trash_ms=86_400_000)
    built.close()


@pytest.fixture
def put(stores: Stores) -> Callable[..., uploads.FileVersion]:
    def put(content: bytes, name: str, folder: str) -> uploads.FileVersion:
        writer = stores.blobs.stage(1 << 30)
        writer.write(content)
        staged = writer.finish()
        info = probe(
            lambda: stores.blobs.open_staged(staged), staged.head, staged.digest, staged.size
        )
        target = uploads.UploadTarget(file_name=name, folder=folder)
        return uploads.upload(stores, staged, info, target, SAME_PATH)

    return put


def kept(stores: Stores) -> dict[str, Usage]:
    with stores.meta.read() as tx:
        return {p: u for p, u in tx.recorded_usage().items() if u != Usage()}


def counted(stores: Stores) -> dict[str, Usage]:
    with stores.meta.read() as tx:
        return tx.recount_usage()


def test_each_folder_counts_its_own_files_and_a_prefix_sums_them(stores: Stores, put) -> None:
    put(b"12345", "a.txt", "/p")
    put(b"1234567", "a.txt", "/p")  # a second version: 7 bytes current, 12 in all
    put(b"12345", "b.txt", "/p/q")  # the same bytes as the first version: one blob
    assert kept(stores) == counted(stores)
    assert kept(stores) == {
        "/p/": Usage(files=1, versions=2, current_bytes=7, version_bytes=12),
        "/p/q/": Usage(files=1, versions=1, current_bytes=5, version_bytes=5),
        BLOBS_ROW: Usage(files=2, current_bytes=12),
    }
    whole = usage.storage_usage(stores, "/p")
    assert (whole.files, whole.versions, whole.version_bytes, whole.physical_bytes) == (
        2,
        3,
        17,
        12,
    )
    assert usage.storage_usage(stores, "/p/q").physical_bytes == 5


def test_a_rolled_back_change_never_reaches_the_counters(stores: Stores, put) -> None:
    item = put(b"abc", "a.txt", "/r")
    before = kept(stores)
    with pytest.raises(RuntimeError), stores.meta.write() as tx:
        tx.trash_files([item.file.id], 1)
        raise RuntimeError("the request failed after its changes")
    assert kept(stores) == before == counted(stores)


def test_trash_moves_bytes_between_counters_and_a_purge_removes_them(stores: Stores, put) -> None:
    item = put(b"abcd", "a.txt", "/s")
    put(b"abcdef", "a.txt", "/s")
    files.delete_file(stores, item.file.id)
    assert kept(stores)["/s/"] == Usage(trash_bytes=10)
    assert kept(stores) == counted(stores)
    trash.restore(stores, item.file.id, "/t/moved.txt")
    assert "/s/" not in kept(stores)
    assert kept(stores)["/t/"] == Usage(files=1, versions=2, current_bytes=6, version_bytes=10)
    files.delete_file(stores, item.file.id)
    trash.purge(stores, item.file.id)
    assert kept(stores) == counted(stores) == {}


def test_migration_0006_backfills_the_counters_from_existing_rows(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "db.sqlite3")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        for n, (folder, size, current) in enumerate(
            [("/a/", 10, True), ("/a/", 30, False), ("/a/b/", 5, True)]
        ):
            file_id = f"{n:024x}" if folder == "/a/b/" or n == 0 else f"{0:024x}"
            digest = f"{n:064x}"
            if current:
                connection.exec_driver_sql(
                    f"INSERT INTO files VALUES ('{file_id}', 'x{n}', '{folder}', "
                    f"'{folder}x{n}', 2, 1, 1)"
                )
            connection.exec_driver_sql(
                f"INSERT INTO blobs (digest, size, created_at, state) "
                f"VALUES ('{digest}', {size}, 1, 'live')"
            )
            connection.exec_driver_sql(
                "INSERT INTO versions (id, file_id, number, blob_digest, size, mime, file_type, "
                "is_private_file, is_published, token, is_current, created_at, updated_at) "
                f"VALUES ('{n + 100:024x}', '{file_id}', {n + 1}, '{digest}', {size}, "
                f"'text/plain', 'non-image', 0, 1, '{n:032x}', {int(current)}, 1, 1)"
            )
    migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM folder_usage ORDER BY folder_path")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("", 3, 0, 45, 0, 0),
        ("/a/", 1, 2, 10, 40, 0),
        ("/a/b/", 1, 1, 5, 5, 0),
    ]


def test_an_import_recounts_the_counters(stores: Stores, put, tmp_path: Path) -> None:
    put(b"abc", "a.txt", "/i")
    put(b"abcdef", "a.txt", "/i/j")
    transfer.export_library(stores, tmp_path / "export")
    target = build_stores(Settings.from_env(backend_env(), data=tmp_path / "other"))
    try:
        migrate(target.meta.engine)
        transfer.import_library(target, tmp_path / "export")
        assert kept(target) == kept(stores) != {}
    finally:
        target.close()
