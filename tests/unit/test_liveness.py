"""Liveness: a process is alive while it holds its lock, on SQLite (flock) and PostgreSQL
(advisory locks), and libraries sharing a PostgreSQL cluster never see each other's owners."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediavault.storage.database import create_engine
from mediavault.storage.liveness import Liveness, liveness_for
from tests.backends import backend_env


def database_url(tmp_path: Path) -> str:
    return backend_env().get("MEDIAVAULT_DATABASE_URL") or f"sqlite:///{tmp_path / 'db.sqlite3'}"


def open_liveness(url: str) -> Liveness:
    engine = create_engine(url)
    try:
        return liveness_for(engine)
    finally:
        engine.dispose()


def _hold_until_killed(url: str, owners: multiprocessing.Queue[int]) -> None:
    alive = open_liveness(url)  # held: a collected connection would release the lock
    owners.put(alive.owner)
    signal.pause()


def test_a_process_is_alive_until_it_is_killed(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    me = open_liveness(url)
    context = multiprocessing.get_context("spawn")
    owners: multiprocessing.Queue[int] = context.Queue()
    other = context.Process(target=_hold_until_killed, args=(url, owners))
    other.start()
    try:
        owner = owners.get(timeout=60)
        assert me.is_alive(owner) and me.others_alive() == [owner]
        assert me.is_alive(me.owner) and me.owner not in me.others_alive()
    finally:
        assert other.pid is not None
        os.kill(other.pid, signal.SIGKILL)  # no chance to unlock anything itself
        other.join()
    _eventually(lambda: not me.is_alive(owner))
    assert me.others_alive() == []
    me.forget_dead_owners()
    me.close()


def test_a_closed_process_is_dead_at_once_and_unknown_owners_are_dead(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    first, second = open_liveness(url), open_liveness(url)
    assert first.is_alive(second.owner)
    second.close()
    assert not first.is_alive(second.owner)
    assert not first.is_alive(12345)  # never registered
    first.close()


@pytest.mark.skipif(
    not os.environ.get("MEDIAVAULT_TEST_DATABASE_URL"), reason="needs the PostgreSQL backend"
)
def test_libraries_sharing_a_postgresql_cluster_do_not_see_each_other(tmp_path: Path) -> None:
    one = open_liveness(database_url(tmp_path))
    other = open_liveness(database_url(tmp_path))  # a second database on the same cluster
    assert sa.make_url(database_url(tmp_path)).database  # (each call makes a new database)
    try:
        assert one.others_alive() == [] and other.others_alive() == []
        assert not one.is_alive(other.owner)
    finally:
        one.close()
        other.close()


def _eventually(condition: object, seconds: float = 10) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)
