"""GET /metrics (Prometheus text) and GET /readyz: for the operator's tools, not in the API doc."""

from __future__ import annotations

import secrets
import time
from typing import Any

from anyio import to_thread
from litestar import Request, Response, get

from mediavault.api.context import context_of
from mediavault.api.errors import error_body
from mediavault.errors import Unauthenticated
from mediavault.ops import metrics
from mediavault.services.readiness import ReadinessProbe
from mediavault.storage.ops_queries import trash_backlog, webhook_backlog

NOT_READY = "The server is not ready: the {what} did not answer. Please try again later."


class MetricsTokenRequired(Unauthenticated):
    message = "This endpoint needs the metrics token: send Authorization: Bearer <token>."


@get("/metrics", include_in_schema=False)
async def scrape_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    ctx = context_of(request)
    token = ctx.settings.metrics_token
    if token is not None:
        supplied = request.headers.get("authorization", "")
        scheme, _, value = supplied.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise MetricsTokenRequired()
    engine = ctx.stores.meta.engine
    trash_ms = ctx.stores.trash_ms

    def trash(index: int) -> float:
        return trash_backlog(engine, int(time.time() * 1000) - trash_ms)[index]

    backlogs: list[metrics.Backlog] = [
        (
            "mediavault_webhook_outbox_backlog",
            "Webhook events waiting to be delivered (neither delivered nor given up).",
            lambda: webhook_backlog(engine),
        ),
        ("mediavault_trash_files", "Files in the trash.", lambda: trash(0)),
        (
            "mediavault_trash_expired_files",
            "Files in the trash past MEDIAVAULT_TRASH_DAYS, waiting for the collector's purge.",
            lambda: trash(1),
        ),
    ]
    metrics.TALLY.flush()  # this worker's latest counts; the others flush every second
    body = await to_thread.run_sync(metrics.scrape, backlogs)
    return Response(body, media_type=metrics.CONTENT_TYPE)


@get("/readyz", include_in_schema=False, sync_to_thread=True)
def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    probe: ReadinessProbe = request.app.state.readiness
    readiness = probe.check()
    if readiness.ready:
        return Response({"status": "ready"}, status_code=200)
    message = NOT_READY.format(what=" and the ".join(readiness.failed))
    body = error_body(message, failed=list(readiness.failed))
    return Response(body, status_code=503)
