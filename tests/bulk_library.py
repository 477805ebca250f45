"""Large libraries in seconds, for the export/import tests and bench/import_memory.py.

Rows go in by bulk inserts (uploading 100k versions through the API would take most of an
hour); the blobs are real, published through the blob store, so export and import copy and
verify real bytes. Also runs a `mediavault` command and reports the process's peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from mediavault.config import Settings
from mediavault.domain.ids import new_object_id, new_version_token
from mediavault.domain.models import VersionMetadata
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.tables import (
    blobs,
    files,
    folders,
    version_custom_values,
    version_tags,
    versions,
)
from mediavault.wiring import build_stores, prepare_data_folder

MEDIAVAULT = str(Path(sys.executable).parent / "mediavault")
BLOB_COUNT = 64
FOLDER_COUNT = 50
INSERT_BATCH = 10_000


def build_library(settings: Settings, version_count: int) -> None:
    """A library of `version_count` versions: two per file, two tags each, 64 distinct blobs."""
    prepare_data_folder(settings)
    stores = build_stores(settings)
    now = int(time.time() * 1000)
    digests = []
    for n in range(BLOB_COUNT):
        writer = stores.blobs.stage(1 << 20)
        writer.write(f"blob {n} ".encode() * 400)
        staged = writer.finish()
        stores.blobs.publish(staged, overwrite=False)
        digests.append((staged.digest, staged.size))
    file_rows, version_rows, tag_rows = [], [], []
    for i in range(version_count // 2):
        file_id = new_object_id()
        folder = f"/f{i % FOLDER_COUNT}/"
        file_rows.append(
            {"id": file_id, "name": f"file{i}.jpg", "folder_path": folder,
             "file_path": f"{folder}file{i}.jpg", "last_version_number": 2,
             "created_at": now, "updated_at": now}
        )  # fmt: skip
        for number in (1, 2):
            version_id = file_id if number == 1 else new_object_id()
            digest, size = digests[(i + number) % BLOB_COUNT]
            tags = [f"tag{i % 40}", "bench"]
            version_rows.append(
                {"id": version_id, "file_id": file_id, "number": number, "blob_digest": digest,
                 "size": size, "mime": "image/jpeg", "file_type": "image", "width": 640,
                 "height": 480, "has_alpha": False, "tags": tags, "ai_tags": None,
                 "custom_metadata": {"brand": f"brand{i % 50}"}, "custom_coordinates": None,
                 "description": f"version {number} of file {i}", "is_private_file": False,
                 "is_published": True, "token": new_version_token(), "is_current": number == 2,
                 "created_at": now + number, "updated_at": now + number}
            )  # fmt: skip
            tag_rows += [{"version_id": version_id, "source": "user", "tag": t} for t in tags]
    with stores.meta.engine.begin() as db:
        db.execute(
            sa.insert(blobs), [{"digest": d, "size": s, "created_at": now} for d, s in digests]
        )
        db.execute(
            sa.insert(folders),
            [{"id": new_object_id(), "folder_path": f"/f{n}/", "name": f"f{n}",
              "parent_path": "/", "created_at": now, "updated_at": now}
             for n in range(FOLDER_COUNT)],
        )  # fmt: skip
        # Custom metadata rows as the write paths keep them (storage/rows.py).
        value_rows = [
            r
            for v in version_rows
            for r in custom_value_rows(
                v["id"], VersionMetadata(custom_metadata=v["custom_metadata"])
            )
        ]
        for table, rows in (
            (files, file_rows),
            (versions, version_rows),
            (version_tags, tag_rows),
            (version_custom_values, value_rows),
        ):
            for start in range(0, len(rows), INSERT_BATCH):
                db.execute(sa.insert(table), rows[start : start + INSERT_BATCH])
    stores.close()


@dataclass(frozen=True)
class MeasuredRun:
    returncode: int
    output: str
    seconds: float
    peak_rss_bytes: int


def run_measured(settings: Settings, *args: str) -> MeasuredRun:
    """`mediavault <args>` on the backends of `settings`, with the peak RSS of that process.

    The peak is the kernel's high-water mark of the process's own memory (VmHWM), polled
    until it exits. Not wait4's ru_maxrss: Linux carries that over from the parent at fork,
    so a child of a large test process would report at least the parent's size.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env.update(settings.to_env())
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        # Popen returns once the child has exec'd: every reading is of the new program.
        process = subprocess.Popen(
            [MEDIAVAULT, *args], env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _high_water_mark(process.pid))
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().strip()
    return MeasuredRun(process.returncode, text, seconds, peak)


def _high_water_mark(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except FileNotFoundError:
        pass
    return 0  # exited between the poll and the read
