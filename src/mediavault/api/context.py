"""What the routes need, built once per worker in create_app and kept in app.state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from mediavault.config import Settings
from mediavault.services.stores import Stores
from mediavault.urls import UrlBuilder


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    stores: Stores
    urls: UrlBuilder
    private_key: str


def context_of(request: Request[Any, Any, Any]) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
