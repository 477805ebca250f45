"""CPU time per request of the hot reads, with no server around the app (issue 16's metrics cost).

    PYTHONPATH=<tree>/src .venv/bin/python bench/cpu_per_request.py [--requests 20000]

Builds the app of the tree on PYTHONPATH over a fresh SQLite library (a 10 KiB file with two
versions), with PROMETHEUS_MULTIPROC_DIR set as `serve` sets it, and calls the ASGI app in a
loop: the process's CPU time (threads included) divided by the requests, the median of five
runs per route. The machine's other load disturbs this much less than req/s under wrk; run it
on two trees back to back to see what a change costs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROUTES = (
    "version details",
    "details ?include=pinned (Litestar)",
    "deliver 10 KiB",
    "deliver 10 KiB by ik-obj-version",
    "304",
    "list 100 versions",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-cpu-") as tmp:
        root = Path(tmp)
        (root / "metrics").mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(root / "metrics")  # before any import
        for route, micros in measure(root, args.requests).items():
            print(f"{route}: {micros:.1f} µs CPU per request")
    return 0


def measure(root: Path, requests: int) -> dict[str, float]:
    import httpx

    from mediavault.api.app import create_app
    from mediavault.config import Settings
    from mediavault.wiring import prepare_data_folder

    key = "private_bench_key_0123456789"
    settings = Settings.from_env({}, data=root / "data", private_key=key)
    prepare_data_folder(settings)
    app = create_app(settings)
    auth = httpx.BasicAuth(key, "")

    async def setup() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=auth) as c:
            for name, count in (("many.bin", 100), ("f.bin", 2)):
                for n in range(count):
                    content = n.to_bytes(4, "big") * 2560  # 10 KiB, each version its own
                    form = {"fileName": name, "useUniqueFileName": "false"}
                    response = await c.post(
                        "/api/v1/files/upload", files={"file": content}, data=form
                    )
                    response.raise_for_status()
                    if name == "many.bin":
                        many = dict(response.json())
            last = dict(response.json())
            listed = await c.get(f"/v1/files/{last['fileId']}/versions")
            older = next(v for v in listed.json() if "ik-obj-version" in v["url"])
            return {**last, "many": many, "token_url": older["url"]}

    uploaded = asyncio.run(setup())
    version = f"/v1/files/{uploaded['fileId']}/versions/{uploaded['versionInfo']['id']}"
    header = b"Basic " + base64.b64encode(f"{key}:".encode())
    delivered = "/media/f.bin"
    paths = {
        "version details": (version, b"", [(b"authorization", header)]),
        "details ?include=pinned (Litestar)": (
            version,
            b"include=pinned",
            [(b"authorization", header)],
        ),
        "deliver 10 KiB": (delivered, b"", []),
        "deliver 10 KiB by ik-obj-version": (
            delivered,
            urlsplit(str(uploaded["token_url"])).query.encode(),
            [],
        ),
        "list 100 versions": (
            f"/v1/files/{uploaded['many']['fileId']}/versions",
            b"",
            [(b"authorization", header)],
        ),
    }
    results: dict[str, float] = {}

    async def loop(path: str, query: bytes, headers: list[tuple[bytes, bytes]], n: int) -> Any:
        status: list[Any] = []

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message)

        for _ in range(n):
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": query,
                "root_path": "",
                "headers": [(b"host", b"t"), *headers],
                "client": ("127.0.0.1", 1),
                "server": ("t", 80),
                "extensions": {},
            }
            await app(scope, receive, send)
        return status[-1]

    async def run_all() -> None:
        # The app's lifespan is not run: no background tasks compete with the loop.
        start = await loop(delivered, b"", [], 1)
        etag = dict(start["headers"])[b"etag"]
        paths["304"] = (delivered, b"", [(b"if-none-match", etag)])
        for route in ROUTES:
            path, query, headers = paths[route]
            last = await loop(path, query, headers, 200)  # warm
            assert last["status"] in (200, 304), (route, last["status"])
            runs = []
            for _ in range(5):
                began = time.process_time()
                await loop(path, query, headers, requests // 5)
                runs.append((time.process_time() - began) / (requests // 5) * 1e6)
            results[route] = statistics.median(runs)

    asyncio.run(run_all())
    return results


if __name__ == "__main__":
    sys.exit(main())
