"""Benchmark: list and search queries on a library of 100k files, through HTTP.

    .venv/bin/python bench/search_100k.py [--files 100000] [--repeat 30] [--data DIR]
        [--answers FILE]

Builds the library quickly by bulk inserts into a fresh data folder (setup only), starts a real
`mediavault serve` on it, then times each query through the API. The baseline is the same
server's cheapest authenticated answer (a details lookup by id), measured in the same run, so
the ratios mean something on a noisy machine. The server's CPU time per request (all its
processes) is reported too: on a shared machine it moves much less than wall-clock time.

On SQLite and local disk by default; on PostgreSQL + S3 when the test suite's MEDIAVAULT_TEST_*
variables are set (`source /tmp/backends.env` or `eval "$(./scripts/backends start)"`), a new
database and prefix per run. `--data DIR` keeps the library in DIR (and its database and
prefix) and reuses it when it is there (the server migrates it on start). `--answers FILE`
writes every query's answer (the ids and types, in order) so that two runs can be compared
for identical results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.backends import backend_env
from tests.support import TEST_KEY, ServerProcess, free_port

from mediavault.config import Settings
from mediavault.domain.ids import new_object_id, new_version_token
from mediavault.storage.database import migrate
from mediavault.storage.tables import blobs, files, folders, version_tags, versions
from mediavault.wiring import build_stores

TAGS = [f"tag{i}" for i in range(40)]
QUERIES = {
    "list one folder (path)": {"path": "/f17/"},
    "list all files, newest first": {"sort": "DESC_CREATED", "limit": "100"},
    "list versions": {"type": "file-version", "limit": "100"},
    "name exact": {"searchQuery": 'name = "file77777.jpg"'},
    "name prefix": {"searchQuery": 'name : "file7777"'},
    "tags IN": {"searchQuery": 'tags IN ["tag3", "tag9"]', "limit": "100"},
    "size range + sort": {"searchQuery": 'size > "500kb"', "sort": "DESC_SIZE", "limit": "100"},
    "width and format": {"searchQuery": 'width > 3000 AND format = "png"', "limit": "100"},
    "created in last 7 days": {"searchQuery": 'createdAt > "7d"', "limit": "100"},
    "custom metadata": {"searchQuery": '"customMetadata.brand" = "brand5"', "limit": "100"},
    "versions by name": {"searchQuery": 'type = "file-version" AND name = "file123.jpg"'},
    "OR of two fields": {"searchQuery": 'name = "file5.jpg" OR tags IN ["tag1"]', "limit": "50"},
    # Both terms match nearly every file: what an OR rewritten as a union must not make slow.
    "OR of two broad ranges": {"searchQuery": 'size > "1kb" OR width > 10', "limit": "100"},
}


def build_library(data: Path, count: int, env: dict[str, str]) -> str:
    settings = Settings.from_env(env, data=data)
    stores = build_stores(settings)
    migrate(stores.meta.engine)
    rng = random.Random(42)
    now = int(time.time() * 1000)
    digest = hashlib.sha256(b"bench").hexdigest()
    file_rows, version_rows, tag_rows = [], [], []
    for i in range(count):
        file_id = new_object_id()[:8] + f"{i:016x}"
        folder = f"/f{i % 100}/"
        created = now - rng.randrange(0, 60 * 86_400_000)
        extra_version = i % 10 == 0
        file_rows.append(
            {"id": file_id, "name": f"file{i}.jpg", "folder_path": folder,
             "file_path": f"{folder}file{i}.jpg", "last_version_number": 2 if extra_version else 1,
             "created_at": created, "updated_at": created}
        )  # fmt: skip
        for number in (1, 2) if extra_version else (1,):
            version_id = file_id if number == 1 else f"ffffffff{i:016x}"
            tags = rng.sample(TAGS, 2)
            version_rows.append(
                {
                    "id": version_id,
                    "file_id": file_id,
                    "number": number,
                    "blob_digest": digest,
                    "size": rng.randrange(1000, 5_000_000),
                    "mime": rng.choice(["image/jpeg", "image/png"]),
                    "file_type": "image",
                    "width": rng.randrange(100, 6000),
                    "height": rng.randrange(100, 4000),
                    "has_alpha": False,
                    "tags": tags,
                    "ai_tags": None,
                    "custom_metadata": {"brand": f"brand{rng.randrange(50)}"},
                    "custom_coordinates": None,
                    "description": None,
                    "is_private_file": False,
                    "is_published": True,
                    "token": new_version_token(),
                    "is_current": number == (2 if extra_version else 1),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            tag_rows += [{"version_id": version_id, "source": "user", "tag": t} for t in tags]
    with stores.meta.engine.begin() as db:
        db.execute(sa.insert(blobs).values(digest=digest, size=5, created_at=now))
        db.execute(
            sa.insert(folders),
            [{"id": new_object_id()[:8] + f"{n:016x}", "folder_path": f"/f{n}/", "name": f"f{n}",
              "parent_path": "/", "created_at": now, "updated_at": now} for n in range(100)],
        )  # fmt: skip
        for table, rows in ((files, file_rows), (versions, version_rows), (version_tags, tag_rows)):
            for start in range(0, len(rows), 20_000):
                db.execute(sa.insert(table), rows[start : start + 20_000])
        db.exec_driver_sql("ANALYZE")
    stores.close()
    return file_rows[len(file_rows) // 2]["id"]


def server_cpu_seconds(server: ServerProcess) -> float:
    """User and system CPU time of the server's processes (main and workers) so far."""
    assert server.process is not None
    main = psutil.Process(server.process.pid)
    total = 0.0
    for process in [main, *main.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def timed(client: httpx.Client, path: str, params: dict[str, str], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


def measured(
    client: httpx.Client, server: ServerProcess, path: str, params: dict[str, str], repeat: int
) -> tuple[list[float], float]:
    """Wall-clock samples (ms) and the server's CPU time per request (ms)."""
    before = server_cpu_seconds(server)
    samples = timed(client, path, params, repeat)
    return samples, (server_cpu_seconds(server) - before) * 1000 / repeat


def answer(client: httpx.Client, params: dict[str, str]) -> list[str]:
    """What a query returns, in order: enough to tell two runs' results apart."""
    response = client.get("/v1/files", params=params)
    assert response.status_code == 200, response.text
    return [
        f"{item['type']}:{item.get('fileId') or item.get('folderId')}:"
        f"{item.get('versionInfo', {}).get('id', '')}"
        for item in response.json()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data", type=Path, help="keep (and reuse) the library here")
    parser.add_argument("--answers", type=Path, help="write each query's results here (JSON)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-bench-") as tmp:
        data = (args.data or Path(tmp)).resolve() / "data"
        # The library's backends (its PostgreSQL database, its S3 prefix) and a file id.
        marker = data.parent / "library.json"
        started = time.perf_counter()
        if args.data and marker.exists():
            env, some_id = json.loads(marker.read_text())
            print(f"reusing the library in {data}")
        else:
            env = backend_env()
            some_id = build_library(data, args.files, env)
            marker.write_text(json.dumps([env, some_id]))
            print(f"built {args.files} files in {time.perf_counter() - started:.1f} s")
        database = "postgresql" if env.get("MEDIAVAULT_DATABASE_URL") else "sqlite"
        print(f"backends: {database} + {'s3' if env.get('MEDIAVAULT_BLOB_URL') else 'disk'}")
        server = ServerProcess(data=data, port=free_port())
        server.backend = env
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60) as client:
                timed(client, "/v1/files", {"limit": "10"}, 5)  # warm up
                lookup = f"/v1/files/{some_id}/details"
                # Ten times the requests: CPU time is counted in ticks of 10 ms.
                first, first_cpu = measured(client, server, lookup, {}, 10 * args.repeat)
                rows = []
                for label, params in QUERIES.items():
                    samples, cpu = measured(client, server, "/v1/files", params, args.repeat)
                    rows.append((label, sorted(samples), cpu))
                # The baseline before and after the queries: the machine's load drifts.
                last, last_cpu = measured(client, server, lookup, {}, 10 * args.repeat)
                baseline = statistics.median(first + last)
                baseline_cpu = (first_cpu + last_cpu) / 2
                print(f"\nbaseline: GET details by id, p50 {baseline:.2f} ms, server CPU "
                      f"{baseline_cpu:.2f} ms per request ({args.files} files, "
                      f"{args.repeat} requests per query, {20 * args.repeat} of the baseline; "
                      "load average "
                      f"{os.getloadavg()[0]:.1f})\n")  # fmt: skip
                print(
                    "| query | p50 ms | p95 ms | p50 ÷ baseline | server CPU ms | CPU ÷ baseline |"
                )
                print("|---|---|---|---|---|---|")
                for label, samples, cpu in rows:
                    p50 = statistics.median(samples)
                    p95 = samples[int(len(samples) * 0.95) - 1]
                    print(f"| {label} | {p50:.1f} | {p95:.1f} | {p50 / baseline:.1f} "
                          f"| {cpu:.1f} | {cpu / baseline_cpu:.1f} |")  # fmt: skip
                if args.answers:
                    answers = {label: answer(client, params) for label, params in QUERIES.items()}
                    args.answers.write_text(json.dumps(answers, indent=1))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
