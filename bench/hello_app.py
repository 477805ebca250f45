"""The ASGI ceiling: a bare Starlette hello-world JSON app, served as mediavault is served.

    .venv/bin/python bench/hello_app.py --port 8000 --workers 2

Same ASGI server (granian), interface, worker count and start method as `mediavault serve`, so
that the ratio of the two measures what mediavault adds per request, not the server.
"""

from __future__ import annotations

import argparse
import multiprocessing

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(_: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/{path:path}", hello)])


def serve_as_mediavault(target: str, port: int, workers: int) -> None:
    """Serve the ASGI app `target` ("module:app", importable from bench/) on 127.0.0.1 as
    `mediavault serve` serves its own: granian, ASGI, uvloop, spawned workers."""
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    multiprocessing.set_start_method("spawn", force=True)
    Server(
        target,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,  # as `mediavault serve`
        workers=workers,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
    ).serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve_as_mediavault("hello_app:app", args.port, args.workers)


if __name__ == "__main__":
    main()
