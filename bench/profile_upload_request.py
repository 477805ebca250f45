"""CPU of the upload route's request side, in one process, without a server or sockets.

    .venv/bin/python bench/profile_upload_request.py [--uploads 2000] [--repeat 5]
        [--clients 16] [--stub-service] [--cprofile] [--rows 40]

The ASGI app that `mediavault serve` runs (create_app: the observability middleware, the fast
reads' dispatch, Litestar's routing, the guard, the route, FormReader, the idempotency wrapper,
the probe, the serializer) is called directly on uvloop with the ASGI messages of
bench/writes.py's request (10 KiB, a new version of a file, every 100th upload a new file),
`--clients` requests at once. It prints the process's CPU per upload (time.process_time: every
thread, the worker threads of the thread hops included), the median of `--repeat` batches.

`--stub-service` replaces `services.uploads.upload` (the metadata statements and the blob's
publication) with one that answers a version stored beforehand: what remains is the request
side alone, whose CPU then moves less with the storage work of the same machine. `--cprofile`
adds cProfile's tables (the event loop's thread only). `--idempotency-key` sends a fresh
`Idempotency-Key` with every request.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if entry not in ("", _HERE)]
import cProfile  # noqa: E402  # bench/profile.py shadows the standard library's profile
import pstats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, _HERE)

from writes import AUTHORIZATION, BOUNDARY, content  # noqa: E402
from writes import upload_body as body_of  # noqa: E402


def scope_of(body: bytes, idempotency_key: str | None) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", AUTHORIZATION.encode()),
        (b"content-type", b"multipart/form-data; boundary=" + BOUNDARY),
        (b"content-length", str(len(body)).encode()),
    ]
    if idempotency_key is not None:
        headers.append((b"idempotency-key", idempotency_key.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/files/upload",
        "raw_path": b"/api/v1/files/upload",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Any, body: bytes, idempotency_key: str | None) -> tuple[int, bytes]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # http.disconnect only when the client goes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer: list[Any] = [0, b""]

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer[0] = message["status"]
        elif message["type"] == "http.response.body":
            answer[1] += message.get("body", b"")

    await app(scope_of(body, idempotency_key), receive, send)
    return answer[0], answer[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=2000, help="a batch")
    parser.add_argument("--repeat", type=int, default=5, help="batches")
    parser.add_argument("--clients", type=int, default=16, help="requests at once")
    parser.add_argument("--stub-service", action="store_true", help="the request side alone")
    parser.add_argument("--idempotency-key", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--rows", type=int, default=40)
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)

    import uvloop

    from mediavault.api.app import create_app
    from mediavault.config import Settings
    from mediavault.services import uploads
    from mediavault.wiring import prepare_data_folder

    with tempfile.TemporaryDirectory(prefix="mv-profile-", dir=os.environ.get("BENCH_DIR")) as tmp:
        settings = Settings(data=Path(tmp) / "data", private_key="private_test_key_0123456789")
        prepare_data_folder(settings)
        app = create_app(settings)
        keys = itertools.count()
        sequence = itertools.count()

        async def one(client: int) -> None:
            n = next(sequence)
            body = body_of(f"c{client:02d}", n, content(n, client))
            key = f"bench-{next(keys)}" if args.idempotency_key else None
            status, answer = await call(app, body, key)
            if status != 200:
                raise RuntimeError(f"{status}: {answer[:300]!r}")

        async def batch(uploads_count: int) -> None:
            per_client = uploads_count // args.clients

            async def client(c: int) -> None:
                for _ in range(per_client):
                    await one(c)

            await asyncio.gather(*(client(c) for c in range(args.clients)))

        async def run() -> None:
            await batch(max(args.clients, 50))  # warm up: the first file of each client
            if args.stub_service:
                real = uploads.upload
                captured: list[Any] = []

                def capture(*call_args: Any, **kwargs: Any) -> Any:
                    captured.append(real(*call_args, **kwargs))
                    return captured[-1]

                uploads.upload = capture
                status, _ = await call(app, body_of("stub", 0, content(0, 999)), None)
                assert status == 200 and captured
                stored = captured[0]

                def answer(stores: Any, staged: Any, *call_args: Any, **kwargs: Any) -> Any:
                    # What publishing leaves of the staged file: nothing (it was renamed).
                    pending = staged.pending_sync
                    if pending is not None:
                        pending.result()
                    os.unlink(staged.location)
                    if hasattr(pending, "moved"):
                        pending.moved = True  # the route's discard has nothing to remove
                    return stored

                uploads.upload = answer
            cpu, user = [], []
            profiler = cProfile.Profile() if args.cprofile else None
            for _ in range(args.repeat):
                c0, u0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
                if profiler is not None:
                    profiler.enable()
                await batch(args.uploads)
                if profiler is not None:
                    profiler.disable()
                done = args.uploads // args.clients * args.clients
                cpu.append((time.process_time() - c0) / done * 1e6)
                user.append((resource.getrusage(resource.RUSAGE_SELF).ru_utime - u0) / done * 1e6)
            print(
                f"{args.uploads} uploads x {args.repeat}, {args.clients} at once"
                f"{', service stubbed' if args.stub_service else ''}: CPU "
                f"{statistics.median(cpu):.0f} µs/upload, least {min(cpu):.0f} "
                f"(batches {', '.join(f'{c:.0f}' for c in cpu)}); user CPU "
                f"{statistics.median(user):.0f} µs/upload, least {min(user):.0f}"
            )
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.rows)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.rows)

        uvloop.run(run())


if __name__ == "__main__":
    main()
