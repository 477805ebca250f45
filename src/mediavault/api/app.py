"""create_app(settings) -> the ASGI app: API routes, delivery mount, errors, OpenAPI."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from typing import Any

from litestar import Litestar, get
from litestar.handlers import asgi
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mediavault import __version__, web
from mediavault.api import openapi
from mediavault.api.context import AppContext
from mediavault.api.cors import CorsMiddleware
from mediavault.api.errors import EXCEPTION_HANDLERS
from mediavault.api.fast_reads import FastReads
from mediavault.api.routes import (
    assets,
    compare,
    custom_metadata,
    delivery,
    files,
    history,
    organize,
    retention,
    storage_usage,
    trash,
    upload,
    versions,
)
from mediavault.config import Settings
from mediavault.services.collector import Collector, RetentionApplier
from mediavault.urls import UrlBuilder
from mediavault.wiring import build_stores, read_private_key, read_public_key


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings) -> ASGIApp:
    _configure_logging(settings.log_level)
    stores = build_stores(settings)
    ctx = AppContext(
        settings=settings,
        stores=stores,
        urls=UrlBuilder(settings.public_url_endpoint),
        private_key=read_private_key(settings),
        public_key=read_public_key(settings),
    )

    async def deliver(scope: Scope, receive: Receive, send: Send) -> None:
        await delivery.serve(ctx, scope, receive, send)

    background: list[asyncio.Task[None]] = []

    async def start_background() -> None:
        if stores.events.enabled:
            # Imported only where webhooks are configured: the sender brings httpx along.
            from mediavault.services.webhook_sender import WebhookSender

            sender = WebhookSender(
                stores.meta, settings.webhook_secret, settings.webhook_retry_hours
            )
            background.append(asyncio.create_task(sender.run()))
        collector = Collector(stores, settings.collect_interval_seconds)
        background.append(asyncio.create_task(collector.run()))
        if settings.retention_interval_seconds > 0:
            applier = RetentionApplier(stores, settings.retention_interval_seconds)
            background.append(asyncio.create_task(applier.run()))

    async def stop_background() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    delivery_mount = asgi(settings.normalized_delivery_prefix, is_mount=True, copy_scope=True)(
        deliver
    )
    app = Litestar(
        route_handlers=[
            upload.upload_file,
            upload.upload_file_v2,
            files.router,
            versions.router,
            assets.router,
            organize.router,
            custom_metadata.router,
            history.router,
            trash.router,
            storage_usage.storage_usage,
            retention.policies_router,
            retention.pins_router,
            compare.router,
            delivery_mount,
            healthz,
            *web.route_handlers(),
        ],
        template_config=web.template_config(),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # handlers take Exception
        openapi_config=OpenAPIConfig(
            title="mediavault",
            version=__version__,
            description="ImageKit-compatible media library with file versioning.",
            path="/docs",
            render_plugins=[web.swagger_plugin()],
            components=openapi.COMPONENTS,
            security=openapi.SECURITY,
        ),
        on_startup=[start_background],
        on_shutdown=[stop_background, stores.close],
        debug=False,
    )
    document = app.openapi_schema
    document.paths = {
        **(document.paths or {}),
        f"{settings.normalized_delivery_prefix}/{{filePath}}": openapi.delivery_path_item(),
    }
    app.state.ctx = ctx
    app.state.private_key = ctx.private_key
    served: ASGIApp = RequestIdMiddleware(FastReads(app, ctx))
    if settings.allowed_origins:
        served = CorsMiddleware(
            served, settings.allowed_origins, settings.normalized_delivery_prefix
        )
    return served


def _configure_logging(level: str) -> None:
    """Our own logger, in the server's format; request headers (and so keys) are never logged."""
    logger = logging.getLogger("mediavault")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


class RequestIdMiddleware:
    """Adds ImageKit's `x-ik-requestId` header (and `x-request-id`) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Unique without a system call per request: a random per-process prefix and a counter.
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]  # ScopeType is a str enum
            await self.app(scope, receive, send)
            return
        request_id = f"{self._prefix}{next(self._counter):016x}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Any = message.get("headers", ())
                # Both names: ImageKit's, and the one its browser SDK reads (x-request-id).
                if isinstance(headers, list):
                    headers += ((b"x-ik-requestid", request_id), (b"x-request-id", request_id))
                else:
                    message["headers"] = [
                        *headers,
                        (b"x-ik-requestid", request_id),
                        (b"x-request-id", request_id),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_id)
