"""Test helpers: a real `mediavault serve` process, and an invariant check of a data folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import httpx

from mediavault.config import Settings
from mediavault.services.fsck import fsck
from mediavault.storage.database import create_engine
from mediavault.wiring import build_blob_store, build_stores
from tests.backends import backend_env

REPO = Path(__file__).resolve().parent.parent
TEST_KEY = "private_test_key_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    data: Path
    port: int
    private_key: str | None = TEST_KEY
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)
    # stop() fails a test whose server lost a worker (a crash that a retried or idle client
    # would not notice), unless the test makes one crash on purpose.
    worker_deaths_expected: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_endpoint(self) -> str:
        return self.env.get("MEDIAVAULT_URL_ENDPOINT", f"{self.base_url}/media")

    def start(self) -> ServerProcess:
        if not hasattr(self, "backend"):
            # One database and blob prefix per server, kept across restarts of it.
            self.backend = backend_env()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
        env.update(self.backend)
        env.update(self.env)
        if self.private_key:
            env["MEDIAVAULT_PRIVATE_KEY"] = self.private_key
        self.settings = Settings.from_env(env, data=self.data, port=self.port)
        command = [
            str(Path(sys.executable).parent / "mediavault"), "serve",
            "--port", str(self.port), "--data", str(self.data), "--workers", str(self.workers),
        ]  # fmt: skip
        self.log_path = self.data.parent / f"server-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        # A session of its own, so that kill() can take the workers down with the main process.
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        # Generous: a worker on PostgreSQL + S3 may take half a minute to boot on a loaded machine.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def cli(self, *args: str) -> str:
        """Run `mediavault <args>` on this server's settings (backends included)."""
        done = self.cli_result(*args)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def cli_result(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
        env.update(self.settings.to_env())
        command = [str(Path(sys.executable).parent / "mediavault"), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    def log(self) -> str:
        return self.log_path.read_text()

    def worker_pids(self) -> list[int]:
        import psutil

        assert self.process is not None
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                command = " ".join(child.cmdline())
            except (psutil.ZombieProcess, psutil.NoSuchProcess):
                continue  # a worker that died and is not reaped yet, or gone meanwhile
            # Spawned workers run multiprocessing's spawn_main; its resource tracker does not.
            if "spawn_main" in command:
                found.append(child.pid)
        return found

    def kill(self) -> None:
        """SIGKILL the server and its workers at once, as a crash or power cut would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        if not self.worker_deaths_expected and "Unexpected exit from worker" in self.log():
            raise AssertionError(f"a worker of the server died:\n{self.log()}")


Target = Union["ServerProcess", Settings]


def settings_of(target: Target) -> Settings:
    return target.settings if isinstance(target, ServerProcess) else target


def blob_files(target: Target) -> dict[str, int]:
    """Every stored blob and its size, on whichever backend the target uses."""
    return dict(build_blob_store(settings_of(target)).digests())


def staging_count(target: Target) -> int:
    return build_blob_store(settings_of(target)).staging_count()


def sql(target: Target, query: str) -> list[tuple[Any, ...]]:
    engine = create_engine(settings_of(target).resolved_database_url)
    try:
        with engine.connect() as connection:
            # A reader: on SQLite it need not wait for the writers' lock (a server that holds
            # it, even one stopped mid-write, does not keep a test from reading).
            connection.execution_options(sqlite_begin="DEFERRED")
            return [tuple(row) for row in connection.exec_driver_sql(query)]
    finally:
        engine.dispose()


def check_invariants(target: Target) -> None:
    """Assert every invariant of a library, with the same check as `mediavault fsck`."""
    stores = build_stores(settings_of(target))
    try:
        report = fsck(stores)
    finally:
        stores.close()
    assert report.clean, "\n".join(report.problems)
