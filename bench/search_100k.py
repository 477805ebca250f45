"""Benchmark: list and search queries on a library of 100k files, through HTTP.

    .venv/bin/python bench/search_100k.py [--files 100000] [--repeat 30] [--data DIR]
        [--answers FILE] [--against SRC_TREE [--against-data DIR]]

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

`--against SRC_TREE` compares with another source tree (`git archive <commit> src | tar -x -C
SRC_TREE`): a second server runs it on a library of its own (built by that tree, so with its
migrations), and each query goes to one server and then the other, with a baseline lookup
before each, so that both see the same load. What a change bought, on a busy machine.
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
from mediavault.domain.models import VersionMetadata
from mediavault.storage.database import migrate
from mediavault.storage.rows import custom_value_rows
from mediavault.storage.tables import (
    blobs,
    files,
    folders,
    version_custom_values,
    version_tags,
    versions,
)
from mediavault.wiring import build_stores

TAGS = [f"tag{i}" for i in range(40)]
# A list of parameters is asked in turn, one per request.
Params = dict[str, str] | list[dict[str, str]]
QUERIES: dict[str, Params] = {
    "list one folder (path)": {"path": "/f17/"},
    # Each folder asked once: nothing of it is kept from an earlier listing (the File objects
    # a worker reuses: api/routes/assets.py), so every record is read and encoded.
    "list one folder, each once": [{"path": f"/f{n}/"} for n in range(100) if n != 17],
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


_turns: dict[int, int] = {}


def timed(client: httpx.Client, path: str, params: Params, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        if isinstance(params, list):  # the next in turn, across calls
            turn = _turns[id(params)] = _turns.get(id(params), -1) + 1
            asked = params[turn % len(params)]
        else:
            asked = params
        started = time.perf_counter()
        response = client.get(path, params=asked)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


def measured(
    client: httpx.Client, server: ServerProcess, path: str, params: Params, repeat: int
) -> tuple[list[float], float]:
    """Wall-clock samples (ms) and the server's CPU time per request (ms)."""
    before = server_cpu_seconds(server)
    samples = timed(client, path, params, repeat)
    return samples, (server_cpu_seconds(server) - before) * 1000 / repeat


def answer(client: httpx.Client, params: Params) -> list[str]:
    """What a query returns, in order: enough to tell two runs' results apart."""
    response = client.get("/v1/files", params=params[0] if isinstance(params, list) else params)
    assert response.status_code == 200, response.text
    return [
        f"{item['type']}:{item.get('fileId') or item.get('folderId')}:"
        f"{item.get('versionInfo', {}).get('id', '')}"
        for item in response.json()
    ]


def open_library(folder: Path, count: int) -> tuple[Path, dict[str, str], str]:
    """The library kept in `folder` (built there first if it is not): its data folder, its
    backends (its PostgreSQL database, its S3 prefix) and one file's id."""
    data = folder.resolve() / "data"
    marker = folder / "library.json"
    if marker.exists():
        env, some_id = json.loads(marker.read_text())
        print(f"reusing the library in {data}")
    else:
        started = time.perf_counter()
        env = backend_env()
        some_id = build_library(data, count, env)
        marker.write_text(json.dumps([env, some_id]))
        print(f"built {count} files in {time.perf_counter() - started:.1f} s")
    database = "postgresql" if env.get("MEDIAVAULT_DATABASE_URL") else "sqlite"
    print(f"backends: {database} + {'s3' if env.get('MEDIAVAULT_BLOB_URL') else 'disk'}")
    return data, env, some_id


def serve(data: Path, env: dict[str, str], source: Path | None = None) -> ServerProcess:
    """`mediavault serve` on the library; from another source tree's `src` if given."""
    server = ServerProcess(
        data=data, port=free_port(), env={"PYTHONPATH": str(source / "src")} if source else {}
    )
    server.backend = env
    return server.start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data", type=Path, help="keep (and reuse) the library here")
    parser.add_argument("--answers", type=Path, help="write each query's results here (JSON)")
    parser.add_argument(
        "--against", type=Path, help="another source tree (e.g. `git archive` of a commit)"
    )
    parser.add_argument("--against-data", type=Path, help="its library, kept (and reused) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-bench-") as tmp:
        data, env, some_id = open_library(args.data or Path(tmp) / "this", args.files)
        if args.against:
            folder = args.against_data or Path(tmp) / "against"
            against = open_library(folder, args.files)
            alternate(args, (data, env, some_id), against)
            return
        server = serve(data, env)
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


def alternate(
    args: argparse.Namespace,
    this: tuple[Path, dict[str, str], str],
    against: tuple[Path, dict[str, str], str],
) -> None:
    """This tree and the other one, each serving its own library, asked in turn: a baseline
    lookup and the query from one, then from the other, `repeat` times per query. Both see
    the same load, so their ratios compare even on a busy machine."""
    servers = [serve(this[0], this[1]), serve(against[0], against[1], args.against)]
    try:
        clients = [
            httpx.Client(base_url=s.base_url, auth=(TEST_KEY, ""), timeout=60) for s in servers
        ]
        lookups = [f"/v1/files/{this[2]}/details", f"/v1/files/{against[2]}/details"]
        for client in clients:
            timed(client, "/v1/files", {"limit": "10"}, 5)  # warm up
        baselines: list[list[float]] = [[], []]
        rows = []
        for label, params in QUERIES.items():
            samples: list[list[float]] = [[], []]
            for _ in range(args.repeat):
                for side in (1, 0):
                    baselines[side] += timed(clients[side], lookups[side], {}, 1)
                    samples[side] += timed(clients[side], "/v1/files", params, 1)
            rows.append((label, [statistics.median(s) for s in samples]))
        base = [statistics.median(b) for b in baselines]
        print(f"\nbaseline: GET details by id, p50 {base[1]:.2f} ms (against) and "
              f"{base[0]:.2f} ms (this tree); {args.repeat} requests per query on each, "
              f"alternating; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print("| query | against p50 ms | ÷ baseline | this tree p50 ms | ÷ baseline |")
        print("|---|---|---|---|---|")
        for label, (mine, theirs) in rows:
            print(f"| {label} | {theirs:.1f} | {theirs / base[1]:.1f} "
                  f"| {mine:.1f} | {mine / base[0]:.1f} |")  # fmt: skip
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
