"""A worker freezes what it built at startup (api/app.py, start_background): the garbage
collector's full collections then skip the app's own objects, which took 55 ms of a stalled
worker each time under load (bench/writes.py's p99). In a fresh interpreter, since freezing
this test process's heap would change every later test's collections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mediavault.config import Settings
from mediavault.wiring import prepare_data_folder

CHILD = """
import gc, json, sys
from pathlib import Path
from litestar.testing import TestClient
from mediavault.api.app import create_app
from mediavault.config import Settings

app = create_app(Settings.from_env({}, data=Path(sys.argv[1]), private_key="private_k"))
before = gc.get_freeze_count()
with TestClient(app) as client:  # runs the lifespan's startup, as a worker does
    during = gc.get_freeze_count()
    status = client.get("/healthz").status_code
print(json.dumps({"before": before, "during": during, "status": status}))
"""


def test_the_startup_objects_are_frozen_once_the_worker_has_started(tmp_path: Path) -> None:
    prepare_data_folder(Settings.from_env({}, data=tmp_path, private_key="private_k"))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    counts = json.loads(out.splitlines()[-1])
    assert counts["before"] == 0
    assert counts["during"] > 50_000  # the modules and the app: hundreds of thousands
    assert counts["status"] == 200
