"""The generated private key: written once, owner-only from the moment its file exists."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.wiring import prepare_data_folder, read_private_key, read_public_key
from tests.backends import backend_env


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(backend_env(), data=tmp_path / "data")


@pytest.fixture
def no_umask() -> Iterator[None]:
    # With umask 0 nothing narrows a mode for us: what the code asks for is what the file gets.
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("no_umask")
def test_the_key_file_is_created_owner_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    modes_at_creation: list[int] = []

    def spying_open(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        descriptor = real_open(path, flags, *args, **kw)
        if "private_key" in os.fspath(path) and flags & os.O_CREAT:
            # Before a single byte is written: the mode anyone could open it with.
            modes_at_creation.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        return descriptor

    monkeypatch.setattr(os, "open", spying_open)
    prepared = prepare_data_folder(settings)

    assert prepared.key_was_generated and prepared.private_key.startswith("private_")
    assert modes_at_creation == [0o600]
    assert _mode(settings.private_key_path) == 0o600
    assert settings.private_key_path.read_text() == prepared.private_key + "\n"
    assert [p.name for p in settings.data.iterdir() if "private_key" in p.name] == ["private_key"]


def test_the_key_is_generated_once_and_read_back(settings: Settings) -> None:
    first = prepare_data_folder(settings)
    again = prepare_data_folder(settings)
    assert first.key_was_generated and not again.key_was_generated
    assert again.private_key == first.private_key == read_private_key(settings)


def test_the_public_key_is_generated_once_too(settings: Settings) -> None:
    first = prepare_data_folder(settings)
    again = prepare_data_folder(settings)
    assert first.public_key_was_generated and not again.public_key_was_generated
    assert first.public_key.startswith("public_") and first.public_key != first.private_key
    assert again.public_key == first.public_key == read_public_key(settings)
    chosen = Settings.from_env({**backend_env(), "MEDIAVAULT_PUBLIC_KEY": "public_mine"},
                               data=settings.data)  # fmt: skip
    assert prepare_data_folder(chosen).public_key == read_public_key(chosen) == "public_mine"


def test_a_chosen_key_writes_no_file(tmp_path: Path) -> None:
    env = {**backend_env(), "MEDIAVAULT_PRIVATE_KEY": "private_chosen"}
    settings = Settings.from_env(env, data=tmp_path / "data")
    prepared = prepare_data_folder(settings)
    assert prepared.private_key == "private_chosen" and not prepared.key_was_generated
    assert not any("private_key" in p.name for p in settings.data.iterdir())


def test_a_failed_write_leaves_no_partial_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        prepare_data_folder(settings)
    monkeypatch.undo()
    assert not any("private_key" in p.name for p in settings.data.iterdir())
    assert prepare_data_folder(settings).key_was_generated
