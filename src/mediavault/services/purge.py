"""Cache purge (spec §5): drop this server's renditions of a URL's file, forward the purge.

The rendition cache is keyed by blob digest, so purging a file's URL forgets the digests of
its versions (of the one version an `ik-obj-version` token names): every transformation of
them, whatever URL asked for it. A trailing `*` purges every file whose path starts with the
rest. That part is done before the request is answered. When MEDIAVAULT_PURGE_WEBHOOK_URL is
set, the purge is also POSTed there (JSON `{"url": ...}`, for a CDN in front) by the
PurgeForwarder of any server process, with retries, from the request's durable row; the
request is `Completed` once that has succeeded (or was given up after the webhook retry
period, which is logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from anyio import to_thread

from mediavault.domain.ids import is_object_id, new_object_id
from mediavault.errors import InvalidPurgeUrl, UnknownPurgeRequest
from mediavault.services.clock import now_ms
from mediavault.services.stores import Stores
from mediavault.storage.metadata import MetadataStore, Transaction
from mediavault.storage.purge_queries import PurgeRequest
from mediavault.urls import quoted_path

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mediavault.purge")

PENDING, COMPLETED = "Pending", "Completed"
_EXTENSION = re.compile(r"\.[A-Za-z0-9]+")
_SEND_TIMEOUT_SECONDS = 15.0
_CLAIM_LEASE_MS = 60_000
_MAX_BACKOFF_SECONDS = 3600
_BATCH = 16


class Purges:
    def __init__(self, stores: Stores, url_endpoint: str, forward_to: str | None) -> None:
        self._stores = stores
        self._endpoint = url_endpoint.rstrip("/")
        self._forward_to = forward_to

    def create(self, url: str) -> str:
        """Purge a URL of this server's delivery endpoint; the request's id."""
        path, wildcard, token = self._target(url)
        with self._stores.meta.read() as tx:
            digests = tx.digests_under(path) if wildcard else tx.digests_of_path(path, token)
        self._forget(digests)
        with self._stores.meta.write() as tx:
            return self.record(tx, url)

    def after_file_rename(self, old_path: str, new_path: str) -> str:
        """Rename's purgeCache: the old URL, and the renditions of the file's versions."""
        with self._stores.meta.read() as tx:
            self._forget(tx.digests_of_path(new_path, None))
        with self._stores.meta.write() as tx:
            return self.record(tx, self._endpoint + quoted_path(old_path))

    def record(self, tx: Transaction, url: str, waiting_for_job: str | None = None) -> str:
        request_id = new_object_id()
        tx.insert_purge_request(request_id, url, self._forward_to, now_ms(), waiting_for_job)
        return request_id

    def folder_url(self, folder_path: str) -> str:
        return self._endpoint + quoted_path(folder_path) + "*"

    def forget_renditions_under(self, folder_path: str) -> None:
        with self._stores.meta.read() as tx:
            self._forget(tx.digests_under(folder_path))

    def status(self, request_id: str) -> str:
        found: PurgeRequest | None = None
        if is_object_id(request_id):
            with self._stores.meta.read() as tx:
                found = tx.get_purge_request(request_id)
        if found is None:
            raise UnknownPurgeRequest()
        return COMPLETED if found.completed_at is not None else PENDING

    def _forget(self, digests: list[str]) -> None:
        for digest in digests:
            self._stores.renditions.forget(digest)

    def _target(self, url: object) -> tuple[str, bool, str | None]:
        """(file path or path prefix, is a prefix, ik-obj-version token) of a URL of ours."""
        if not isinstance(url, str) or not url.startswith(self._endpoint + "/"):
            raise InvalidPurgeUrl()
        raw_path, _, query = url[len(self._endpoint) :].partition("?")
        raw_path = raw_path.split("#", 1)[0]
        first, _, rest = raw_path[1:].partition("/")
        if first.startswith("tr:"):  # the path form of a transformation: the same file
            raw_path = "/" + rest
        wildcard = raw_path.endswith("*") and not query
        path = unquote(raw_path[:-1] if wildcard else raw_path)
        if "*" in path or "*" in query or path in ("", "/") or "\x00" in path:
            raise InvalidPurgeUrl()
        if wildcard and not _prefix_allowed(path):
            raise InvalidPurgeUrl()
        token = dict(parse_qsl(query, keep_blank_values=True)).get("ik-obj-version")
        return path, wildcard, token


def _prefix_allowed(path: str) -> bool:
    """ImageKit's rule for a trailing `*`: two levels of folders, 15 characters or more, or a
    whole file name with its extension."""
    last = path.rstrip("/").rpartition("/")[2]
    return path.count("/") >= 2 or len(path) >= 15 or _EXTENSION.search(last) is not None


class PurgeForwarder:
    """POSTs each pending purge to the configured hook, with exponential backoff; the rows
    are claimed with a lease, so two processes never send the same purge at once."""

    def __init__(self, meta: MetadataStore, retry_hours: int, poll_seconds: float = 0.5) -> None:
        self._meta = meta
        self._retry_ms = retry_hours * 3_600_000
        self._poll_seconds = poll_seconds

    async def run(self) -> None:
        # Here, not at the top: only a server with a purge hook needs an HTTP client.
        import httpx

        async with httpx.AsyncClient(timeout=_SEND_TIMEOUT_SECONDS) as client:
            while True:
                try:
                    claimed = await to_thread.run_sync(self._claim)
                    await asyncio.gather(*(self._send(client, p) for p in claimed))
                except Exception:  # keep the loop alive whatever one round hit
                    log.exception("purge forwarding round failed")
                    claimed = []
                if not claimed:
                    await asyncio.sleep(self._poll_seconds)

    def _claim(self) -> list[PurgeRequest]:
        with self._meta.write() as tx:
            return tx.claim_due_purges(now_ms(), _CLAIM_LEASE_MS, _BATCH)

    async def _send(self, client: httpx.AsyncClient, request: PurgeRequest) -> None:
        import httpx

        assert request.forward_to is not None
        body = json.dumps({"url": request.url})
        headers = {"content-type": "application/json", "user-agent": "mediavault-purge"}
        try:
            response = await client.post(request.forward_to, content=body, headers=headers)
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        await to_thread.run_sync(self._record_outcome, request, error)

    def _record_outcome(self, request: PurgeRequest, error: str | None) -> None:
        now = now_ms()
        attempts = request.attempts + 1
        with self._meta.write() as tx:
            if error is None:
                tx.purge_forwarded(request.id, attempts, now)
                return
            delay_ms = int(min(2**attempts, _MAX_BACKOFF_SECONDS) * 1000 * random.uniform(0.8, 1.2))
            if now + delay_ms - request.created_at > self._retry_ms:
                log.warning("gave up forwarding purge %s: %s", request.id, error)
                tx.purge_attempt_failed(request.id, attempts, None, error, now)
            else:
                tx.purge_attempt_failed(request.id, attempts, now + delay_ms, error, now)
