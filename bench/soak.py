"""Soak test: mixed versioning traffic for a set time against a real server.

    .venv/bin/python bench/soak.py [--seconds 300] [--clients 16] [--workers 2] [--files 40]

Starts `mediavault serve` on a fresh data folder (or the PostgreSQL/S3 backends named by the
MEDIAVAULT_TEST_* variables, as the tests do) and runs clients that upload new versions, read
details and versions, list, search, deliver bytes, restore, delete versions and delete and
recreate files. It prints the server's memory over time, the 5xx count, every status seen and
latency percentiles per operation. At the end it reads back every acknowledged version that was
not deleted and compares its bytes, and runs `mediavault fsck`. Exit code 1 on any 5xx, any
lost or corrupted version, or an unclean fsck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import TEST_KEY, ServerProcess, free_port

# Weights of the operations in the mix.
MIX = {
    "upload version": 20,
    "get details": 14,
    "list versions": 14,
    "get version": 10,
    "deliver": 14,
    "search": 8,
    "restore": 6,
    "delete version": 8,
    "delete file": 2,
}


@dataclass
class Library:
    """What the clients were told: acknowledged versions, by file path, with their digests."""

    file_ids: dict[str, str] = field(default_factory=dict)
    versions: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    current: dict[str, str] = field(default_factory=dict)

    def forget_file(self, path: str) -> None:
        self.file_ids.pop(path, None)
        self.versions.pop(path, None)
        self.current.pop(path, None)


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: int = 0


class Soak:
    def __init__(self, base_url: str, files: int, results: Results) -> None:
        self.base_url = base_url
        self.paths = [f"/soak/f{i:03d}.bin" for i in range(files)]
        self.library = Library()
        self.results = results
        # One writer per path at a time: the soak checks durability, not last-writer-wins races
        # (the concurrency tests do that), and it must know which version is current.
        self.locks = {path: asyncio.Lock() for path in self.paths}

    async def run_client(self, client: httpx.AsyncClient, deadline: float, seed: int) -> None:
        rng = random.Random(seed)
        names, weights = list(MIX), list(MIX.values())
        while time.monotonic() < deadline:
            operation = rng.choices(names, weights)[0]
            path = rng.choice(self.paths)
            started = time.perf_counter()
            if path not in self.library.file_ids:
                operation = "upload version"
            try:
                status = await self.do(client, operation, path, rng)
            except httpx.TransportError as exc:
                self.results.transport_errors += 1
                self.results.server_errors.append(f"{operation}: {exc!r}")
                continue
            if status is None:
                continue
            self.results.latencies[operation].append(time.perf_counter() - started)
            self.results.statuses[(operation, status)] += 1

    async def do(
        self, client: httpx.AsyncClient, operation: str, path: str, rng: random.Random
    ) -> int | None:
        file_id = self.library.file_ids.get(path)
        if operation == "upload version" or file_id is None:
            operation = "upload version"
            async with self.locks[path]:
                return await self.upload(client, path, rng)
        if operation == "get details":
            return await self.get(client, f"/v1/files/{file_id}/details")
        if operation == "list versions":
            return await self.get(client, f"/v1/files/{file_id}/versions")
        if operation == "search":
            query = rng.choice(['name = "f001.bin"', 'size > "10kb"', 'tags IN ["soak"]'])
            return await self.get(client, "/v1/files", {"searchQuery": query, "limit": "50"})
        versions = list(self.library.versions.get(path, {}))
        if not versions:
            return None
        version_id = rng.choice(versions)
        if operation == "get version":
            return await self.get(client, f"/v1/files/{file_id}/versions/{version_id}")
        if operation == "deliver":
            response = await client.get(f"/media{path}")
            self.check(operation, response)
            return response.status_code
        async with self.locks[path]:
            if self.library.file_ids.get(path) != file_id:
                return None
            if operation == "restore":
                response = await client.put(f"/v1/files/{file_id}/versions/{version_id}/restore")
                self.check(operation, response)
                if response.status_code == 200:
                    self.library.current[path] = version_id
                return response.status_code
            if operation == "delete version":
                if version_id == self.library.current.get(path):
                    return None  # refused by design; the error tests cover it
                response = await client.delete(f"/v1/files/{file_id}/versions/{version_id}")
                self.check(operation, response)
                if response.status_code == 204:
                    self.library.versions[path].pop(version_id, None)
                return response.status_code
            response = await client.delete(f"/v1/files/{file_id}")
            self.check(operation, response)
            if response.status_code == 204:
                self.library.forget_file(path)
            return response.status_code

    async def upload(self, client: httpx.AsyncClient, path: str, rng: random.Random) -> int:
        content = rng.randbytes(rng.choice([512, 4096, 32768, 200_000]))
        folder, _, name = path.rpartition("/")
        response = await client.post(
            "/api/v1/files/upload",
            files={"file": (name, content, "application/octet-stream")},
            data={"fileName": name, "folder": folder, "useUniqueFileName": "false",
                  "tags": "soak"},
        )  # fmt: skip
        self.check("upload version", response)
        if response.status_code == 200:
            body = response.json()
            self.library.file_ids[path] = body["fileId"]
            self.library.current[path] = body["versionInfo"]["id"]
            self.library.versions[path][body["versionInfo"]["id"]] = hashlib.sha256(
                content
            ).hexdigest()
        elif response.status_code == 400 and "versions" in response.text:
            # The 100-version cap: make room as a user would, by deleting the oldest version.
            await self.prune(client, path)
        return response.status_code

    async def prune(self, client: httpx.AsyncClient, path: str) -> None:
        file_id = self.library.file_ids[path]
        listed = await client.get(f"/v1/files/{file_id}/versions")
        older = [v for v in listed.json() if v["type"] == "file-version"]
        for version in older[:20]:
            version_id = version["versionInfo"]["id"]
            if (
                await client.delete(f"/v1/files/{file_id}/versions/{version_id}")
            ).status_code == 204:
                self.library.versions[path].pop(version_id, None)

    async def get(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None
    ) -> int:
        response = await client.get(url, params=params)
        self.check(url, response)
        return response.status_code

    def check(self, what: str, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.results.server_errors.append(
                f"{what}: {response.status_code} {response.text[:200]}"
            )

    async def verify(self, client: httpx.AsyncClient) -> list[str]:
        """Every acknowledged version that was not deleted must deliver its exact bytes."""
        problems = []
        for path, versions in self.library.versions.items():
            file_id = self.library.file_ids[path]
            for version_id, digest in versions.items():
                details = await client.get(f"/v1/files/{file_id}/versions/{version_id}")
                if details.status_code != 200:
                    problems.append(f"{path} {version_id}: details {details.status_code}")
                    continue
                body = await client.get(details.json()["url"])
                if hashlib.sha256(body.content).hexdigest() != digest:
                    problems.append(f"{path} {version_id}: bytes differ")
        return problems


def server_rss_mb(server: ServerProcess) -> float:
    assert server.process is not None
    main = psutil.Process(server.process.pid)
    processes = [main, *main.children(recursive=True)]
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker being replaced
            total += process.memory_info().rss
    return total / 1e6


async def sample_memory(
    server: ServerProcess, deadline: float, every: float, out: list[tuple[float, float]]
) -> None:
    start = time.monotonic()
    while time.monotonic() < deadline:
        out.append((time.monotonic() - start, server_rss_mb(server)))
        await asyncio.sleep(every)
    out.append((time.monotonic() - start, server_rss_mb(server)))


async def soak(
    server: ServerProcess, seconds: float, clients: int, files: int
) -> tuple[Results, list[str], list[tuple[float, float]]]:
    results = Results()
    runner = Soak(server.base_url, files, results)
    memory: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=server.base_url, auth=(TEST_KEY, ""), timeout=60, limits=limits
    ) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            sample_memory(server, deadline, max(1.0, seconds / 20), memory),
            *(runner.run_client(client, deadline, seed) for seed in range(clients)),
        )
        problems = await runner.verify(client)
    return results, problems, memory


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(
    results: Results,
    problems: list[str],
    memory: list[tuple[float, float]],
    args: argparse.Namespace,
    elapsed: float,
    fsck_ok: bool,
) -> None:
    total = sum(results.statuses.values())
    print(
        f"\nsoak: {elapsed:.0f} s, {args.clients} clients, {args.workers} workers, "
        f"{psutil.cpu_count()} cores, {total} requests ({total / elapsed:.0f}/s)\n"
    )
    print("| operation | requests | p50 ms | p95 ms | p99 ms | max ms | statuses |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for operation in MIX:
        values = results.latencies.get(operation, [])
        if not values:
            continue
        statuses = ", ".join(
            f"{s}: {n}" for (op, s), n in sorted(results.statuses.items()) if op == operation
        )
        print(
            f"| {operation} | {len(values)} | {percentile(values, 0.5):.1f} | "
            f"{percentile(values, 0.95):.1f} | {percentile(values, 0.99):.1f} | "
            f"{max(values) * 1000:.0f} | {statuses} |"
        )
    print("\nserver memory (main process and workers, RSS):")
    print("| t (s) | " + " | ".join(f"{t:.0f}" for t, _ in memory) + " |")
    print("|---|" + "---:|" * len(memory))
    print("| MB | " + " | ".join(f"{mb:.0f}" for _, mb in memory) + " |")
    growth = memory[-1][1] - memory[len(memory) // 4][1] if len(memory) > 4 else 0.0
    print(
        f"\n5xx responses: {sum(1 for e in results.server_errors if ': 5' in e)}; "
        f"transport errors: {results.transport_errors}; "
        f"lost or corrupted versions: {len(problems)}; fsck clean: {fsck_ok}; "
        f"memory growth after warm-up: {growth:+.0f} MB; median latency "
        f"{statistics.median(v for vs in results.latencies.values() for v in vs) * 1000:.1f} ms"
    )
    for line in (results.server_errors + problems)[:20]:
        print("  ", line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediavault-soak-") as root:
        server = ServerProcess(
            data=Path(root) / "data", port=free_port(), workers=args.workers
        ).start()
        try:
            results, problems, memory = asyncio.run(
                soak(server, args.seconds, args.clients, args.files)
            )
        finally:
            server.stop()
        fsck = server.cli_result("fsck")
        report(results, problems, memory, args, args.seconds, fsck.returncode == 0)
        if fsck.returncode != 0:
            print(fsck.stdout)
    failed = results.server_errors or problems or fsck.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
