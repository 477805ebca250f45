"""Entry point for ASGI servers in worker processes: `mediavault.api.asgi:app_from_env`."""

from __future__ import annotations

from litestar.types import ASGIApp

from mediavault.api.app import create_app
from mediavault.config import Settings


def app_from_env() -> ASGIApp:
    return create_app(Settings.from_env())
