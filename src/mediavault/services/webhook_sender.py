"""Delivering outbox events to webhook receivers, with retries and exponential backoff.

Runs as a background task in every worker process; the outbox claims keep workers from
sending the same event twice, and per-file queues keep each file's events in order.
"""

from __future__ import annotations

import asyncio
import logging
import random

import httpx
from anyio import to_thread

from mediavault.domain.webhooks import signature_headers
from mediavault.ops import metrics
from mediavault.services.clock import now_ms
from mediavault.storage.metadata import MetadataStore
from mediavault.storage.outbox_queries import PendingEvent

log = logging.getLogger("mediavault.webhooks")

SEND_TIMEOUT_SECONDS = 15.0
# Longer than a send can take, so a claimed event is never sent twice by two workers.
CLAIM_LEASE_MS = 60_000
MAX_BACKOFF_SECONDS = 3600
BATCH = 32


class WebhookSender:
    def __init__(
        self, meta: MetadataStore, secret: str | None, retry_hours: int, poll_seconds: float = 0.5
    ) -> None:
        self._meta = meta
        self._secret = secret
        self._retry_ms = retry_hours * 3_600_000
        self._poll_seconds = poll_seconds

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as client:
            while True:
                try:
                    sent = await self.deliver_due(client)
                except Exception:  # keep the loop alive whatever one round hit
                    log.exception("webhook delivery round failed")
                    sent = 0
                if sent == 0:
                    await asyncio.sleep(self._poll_seconds)

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        events = await to_thread.run_sync(self._claim)
        if events:
            await asyncio.gather(*(self._send(client, event) for event in events))
        return len(events)

    def _claim(self) -> list[PendingEvent]:
        with self._meta.write() as tx:
            return tx.claim_due_events(now_ms(), CLAIM_LEASE_MS, BATCH)

    async def _send(self, client: httpx.AsyncClient, event: PendingEvent) -> None:
        headers = {"content-type": "application/json", "user-agent": "mediavault-webhooks"}
        if self._secret:
            headers.update(signature_headers(event.event_id, event.body, self._secret, now_ms()))
        try:
            response = await client.post(event.target_url, content=event.body, headers=headers)
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        await to_thread.run_sync(self._record_outcome, event, error)

    def _record_outcome(self, event: PendingEvent, error: str | None) -> None:
        now = now_ms()
        with self._meta.write() as tx:
            if error is None:
                tx.mark_delivered(event.id, now)
                metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
                return
            attempts = event.attempts + 1
            delay_ms = int(min(2**attempts, MAX_BACKOFF_SECONDS) * 1000 * random.uniform(0.8, 1.2))
            if now + delay_ms - event.created_at > self._retry_ms:
                log.warning("gave up webhook %s to %s: %s", event.event_id, event.target_url, error)
                tx.mark_attempt_failed(event.id, attempts, None, error, now)
                metrics.WEBHOOK_DELIVERIES.labels("given_up").inc()
            else:
                tx.mark_attempt_failed(event.id, attempts, now + delay_ms, error, now)
                metrics.WEBHOOK_DELIVERIES.labels("retry").inc()
