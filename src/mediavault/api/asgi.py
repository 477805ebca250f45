"""Entry point for ASGI servers in worker processes: `mediavault.api.asgi:app_from_env`."""

from __future__ import annotations

import faulthandler

from litestar.types import ASGIApp

from mediavault.api.app import create_app
from mediavault.config import Settings


def app_from_env() -> ASGIApp:
    # A worker killed by a fatal signal (a crash in native code: SIGSEGV, SIGBUS, SIGABRT)
    # otherwise leaves only granian's "Unexpected exit" in the log: this writes every thread's
    # Python stack to stderr, the server's log, first. granian then starts a new worker.
    faulthandler.enable(all_threads=True)
    return create_app(Settings.from_env())
