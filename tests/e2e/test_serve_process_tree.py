"""`mediavault serve`'s processes: the data folder is prepared in a short-lived child, so the
long-lived main process, which only supervises the workers, never loads the storage layer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
from imagekitio import ImageKit

from tests.support import TEST_KEY, ServerProcess, free_port

MEDIAVAULT = str(Path(sys.executable).parent / "mediavault")
# Extension modules that preparing (migrations, stores) loads; the supervisor needs none of them.
STORAGE_LIBRARIES = ("sqlalchemy", "_sqlite3", "obstore", "psycopg", "PIL", "msgspec")


def test_the_main_process_prepares_nothing_itself_and_stays_small(tmp_path: Path) -> None:
    server = ServerProcess(data=tmp_path / "data", port=free_port()).start()
    try:
        assert server.process is not None
        main = psutil.Process(server.process.pid)
        maps = Path(f"/proc/{main.pid}/maps").read_text()
        loaded = [name for name in STORAGE_LIBRARIES if f"/{name}" in maps]
        assert loaded == [], f"serve's main process loaded {loaded}"
        # 30 MB here: the interpreter, click and granian. Preparing in it made it 70 MB.
        assert main.memory_info().rss < 45 * 1024 * 1024
        # The preparing child is gone: what is left is one worker (and multiprocessing's
        # resource tracker, which is no mediavault code).
        (worker,) = server.worker_pids()
        workers = [c for c in main.children(recursive=True) if c.pid == worker]
        assert len(workers) == 1
        # The child did prepare: the schema is there, and the worker serves on it.
        client = ImageKit(private_key=TEST_KEY, base_url=server.base_url, max_retries=0)
        assert client.files.upload(file=b"prepared", file_name="p.txt").size == 8
    finally:
        server.stop()


def test_a_preparation_that_fails_ends_serve_with_exit_code_1_and_its_error(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    # A valid setting (an invalid one is refused before preparing, with exit code 2) naming a
    # database nobody listens for: only preparing finds out.
    unreachable = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    done = subprocess.run(
        [MEDIAVAULT, "serve", "--data", str(tmp_path / "data"), "--port", str(free_port()),
         "--database-url", unreachable],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "OperationalError" in done.stderr and "127.0.0.1" in done.stderr
    assert "mediavault 0" not in done.stdout  # it never announced itself as serving
