"""The periodic collector: every server process removes, now and then, what abandoned work
left (mediavault.services.garbage.collect_abandoned), so that a crash elsewhere, or a failed
post-commit deletion, does not leave garbage until the next start; it also purges the files
whose trash period has passed (mediavault.services.trash). Retention policies are
applied periodically the same way (RetentionApplier)."""

from __future__ import annotations

import asyncio
import logging
import random

from anyio import to_thread

from mediavault.services import client_uploads, idempotency, trash
from mediavault.services.garbage import collect_abandoned
from mediavault.services.retention import apply_all
from mediavault.services.stores import Stores

log = logging.getLogger("mediavault.garbage")


class Collector:
    def __init__(self, stores: Stores, interval_seconds: float) -> None:
        self._stores = stores
        self._interval = interval_seconds

    async def run(self) -> None:
        while True:
            # Jittered, so that many workers started together do not all collect at once.
            await asyncio.sleep(self._interval * random.uniform(0.5, 1.5))
            try:
                await to_thread.run_sync(collect_abandoned, self._stores)
            except Exception:  # the next round tries again
                log.warning("collecting abandoned work failed", exc_info=True)
            try:
                await to_thread.run_sync(idempotency.collect, self._stores)
            except Exception:
                log.warning("removing expired idempotency keys failed", exc_info=True)
            try:
                await to_thread.run_sync(trash.purge_expired, self._stores)
            except Exception:
                log.warning("purging the trash failed", exc_info=True)
            try:
                await to_thread.run_sync(client_uploads.collect, self._stores)
            except Exception:
                log.warning("forgetting expired upload tokens failed", exc_info=True)


class RetentionApplier:
    """Applies every retention policy now and then; each file in its own short transaction
    (services.retention.apply_to_file), so concurrent uploads and other workers doing the same
    only ever wait for one file."""

    def __init__(self, stores: Stores, interval_seconds: float) -> None:
        self._stores = stores
        self._interval = interval_seconds

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval * random.uniform(0.5, 1.5))
            try:
                removed = await to_thread.run_sync(apply_all, self._stores)
            except Exception:  # the next round tries again
                log.warning("applying retention policies failed", exc_info=True)
                continue
            if removed:
                log.info("retention policies removed %d versions", len(removed))
