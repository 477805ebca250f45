"""create_app(settings) -> the ASGI app: API routes, delivery mount, errors, OpenAPI."""

from __future__ import annotations

import asyncio
import gc

from litestar import Litestar, get
from litestar.handlers import asgi
from litestar.openapi import OpenAPIConfig
from litestar.plugins import PluginProtocol
from litestar.types import ASGIApp, Receive, Scope, Send

from mediavault import __version__, web
from mediavault.api import openapi
from mediavault.api.context import AppContext
from mediavault.api.cors import CorsMiddleware
from mediavault.api.errors import EXCEPTION_HANDLERS
from mediavault.api.fast_reads import FastReads
from mediavault.api.observability import ObservedRequests
from mediavault.api.routes import (
    accounts,
    assets,
    bulk_jobs,
    compare,
    custom_metadata,
    delivery,
    file_metadata,
    files,
    history,
    operations,
    organize,
    purge,
    retention,
    storage_usage,
    trash,
    upload,
    versions,
)
from mediavault.config import Settings
from mediavault.ops import logs, metrics
from mediavault.services.bandwidth import BandwidthCounter, BandwidthFlusher
from mediavault.services.bulk_jobs import BulkJobRunner
from mediavault.services.collector import Collector, RetentionApplier
from mediavault.services.purge import Purges
from mediavault.services.readiness import ReadinessProbe
from mediavault.urls import UrlBuilder
from mediavault.wiring import build_stores, read_private_key, read_public_key


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


class App(Litestar):
    """Litestar without the four plugins it adds whenever pydantic is importable (the test tools
    bring pydantic; the server does not depend on it): no route takes or returns a pydantic
    model, and they cost every worker about 8 MB (issue 11). The app is the same with or
    without pydantic installed. tests/unit/test_lazy_imports.py checks the other defaults."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        from litestar.plugins.core import MsgspecDIPlugin

        plugins.append(MsgspecDIPlugin())
        return plugins


def create_app(settings: Settings) -> ASGIApp:
    logs.configure(settings.log_level, settings.log_format)
    stores = build_stores(settings)
    ctx = AppContext(
        settings=settings,
        stores=stores,
        urls=UrlBuilder(settings.public_url_endpoint),
        private_key=read_private_key(settings),
        public_key=read_public_key(settings),
        bandwidth=BandwidthCounter(),
        purges=Purges(stores, settings.public_url_endpoint, settings.purge_webhook_url),
        bulk_jobs=BulkJobRunner(stores, settings.bulk_job_batch_size),
    )
    flusher = BandwidthFlusher(stores, ctx.bandwidth, settings.bandwidth_flush_seconds)

    async def deliver(scope: Scope, receive: Receive, send: Send) -> None:
        await delivery.serve(ctx, scope, receive, send)

    background: list[asyncio.Task[None]] = []

    async def start_background() -> None:
        # Everything built so far (modules, the app, its stores) lives as long as the worker.
        # Frozen, the garbage collector no longer walks it: each full collection, every few
        # seconds under load, took 55 ms of a stalled worker (bench/writes.py's p99; 2-4 ms
        # frozen).
        gc.freeze()
        if stores.events.enabled:
            # Imported only where webhooks are configured: the sender brings httpx along.
            from mediavault.services.webhook_sender import WebhookSender

            sender = WebhookSender(
                stores.meta, settings.webhook_secret, settings.webhook_retry_hours
            )
            background.append(asyncio.create_task(sender.run()))
        collector = Collector(stores, settings.collect_interval_seconds)
        background.append(asyncio.create_task(collector.run()))
        background.append(asyncio.create_task(metrics.TALLY.run()))
        if settings.retention_interval_seconds > 0:
            applier = RetentionApplier(stores, settings.retention_interval_seconds)
            background.append(asyncio.create_task(applier.run()))
        background.append(asyncio.create_task(ctx.bulk_jobs.run()))
        background.append(asyncio.create_task(flusher.run()))
        if settings.purge_webhook_url:
            from mediavault.services.purge import PurgeForwarder

            forwarder = PurgeForwarder(stores.meta, settings.webhook_retry_hours)
            background.append(asyncio.create_task(forwarder.run()))

    async def stop_background() -> None:
        # At shutdown (SIGTERM included), once granian has let the requests in flight finish.
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        metrics.TALLY.flush()  # the requests of the last second
        await flusher.final_flush()  # the bytes counted since the last flush

    delivery_mount = asgi(settings.normalized_delivery_prefix, is_mount=True, copy_scope=True)(
        deliver
    )
    app = App(
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
            bulk_jobs.router,
            purge.router,
            accounts.account_usage,
            *file_metadata.route_handlers,
            delivery_mount,
            healthz,
            operations.readyz,
            operations.scrape_metrics,
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
    app.state.readiness = ReadinessProbe(stores)
    served: ASGIApp = ObservedRequests(
        FastReads(app, ctx),
        log_requests=settings.log_format == "json",
        delivery_route=delivery.route_template(settings.normalized_delivery_prefix),
    )
    if settings.allowed_origins:
        served = CorsMiddleware(
            served, settings.allowed_origins, settings.normalized_delivery_prefix
        )
    return served
