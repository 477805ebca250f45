"""Bandwidth per UTC day and account usage (spec §6).

Delivery counts the bytes of each answer in memory (BandwidthCounter.add: a clock read and an
addition, no lock: the event loop is the only writer); the BandwidthFlusher of each process
adds its counts to `bandwidth_days` every few seconds and at shutdown, in one upsert per day.
A process killed with SIGKILL loses at most one interval's counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from dataclasses import dataclass

from anyio import to_thread

from mediavault.errors import InvalidRequest
from mediavault.services.stores import Stores

log = logging.getLogger("mediavault.bandwidth")

MAX_RANGE_DAYS = 90
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BandwidthCounter:
    __slots__ = ("_bytes", "_day", "_day_ends", "_earlier")

    def __init__(self) -> None:
        self._bytes = 0
        self._day = ""
        self._day_ends = 0.0  # the first call sets the day
        self._earlier: dict[str, int] = {}  # whole days not flushed yet

    def add(self, count: int) -> None:
        if time.time() >= self._day_ends:
            self._next_day()
        self._bytes += count

    def _next_day(self) -> None:
        if self._bytes:
            self._earlier[self._day] = self._earlier.get(self._day, 0) + self._bytes
        self._bytes = 0
        now = time.time()
        self._day = time.strftime("%Y-%m-%d", time.gmtime(now))
        self._day_ends = (now // 86400 + 1) * 86400

    def take(self) -> dict[str, int]:
        """The counts since the last take, per day; the counter starts again from zero."""
        counts, self._earlier = self._earlier, {}
        if self._bytes:
            counts[self._day] = counts.get(self._day, 0) + self._bytes
            self._bytes = 0
        return counts

    def give_back(self, counts: dict[str, int]) -> None:
        """Counts a failed flush could not write, kept for the next one."""
        for day, count in counts.items():
            self._earlier[day] = self._earlier.get(day, 0) + count


class BandwidthFlusher:
    def __init__(self, stores: Stores, counter: BandwidthCounter, interval_seconds: float) -> None:
        self._stores = stores
        self._counter = counter
        self._interval = interval_seconds

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        # Taken on the event loop, where delivery adds: no lock needed.
        counts = self._counter.take()
        if not counts:
            return
        try:
            await to_thread.run_sync(self._write, counts)
        except Exception:  # kept for the next round
            log.warning("writing bandwidth counters failed", exc_info=True)
            self._counter.give_back(counts)

    def _write(self, counts: dict[str, int]) -> None:
        with self._stores.meta.write() as tx:
            tx.add_bandwidth(counts)

    async def final_flush(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()


@dataclass(frozen=True)
class AccountUsage:
    bandwidth_bytes: int
    media_library_storage_bytes: int
    video_processing_units_count: int = 0
    extension_units_count: int = 0
    original_cache_storage_bytes: int = 0


def account_usage(stores: Stores, start: str | None, end: str | None) -> AccountUsage:
    """Bytes delivered on the days [start, end) and the bytes stored now (every version, the
    trash's included); the other counters are 0: see docs/decisions.md."""
    first, last = _date_range(start, end)
    with stores.meta.read() as tx:
        bandwidth = tx.bandwidth_between(first.isoformat(), last.isoformat())
        usage = tx.usage_under("/")
    return AccountUsage(bandwidth, usage.version_bytes + usage.trash_bytes)


def _date_range(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    if not start or not end:
        raise InvalidRequest("startDate and endDate are required in query parameters.")
    try:
        if not (_DATE.fullmatch(start) and _DATE.fullmatch(end)):
            raise ValueError
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise InvalidRequest("startDate and endDate should be in format YYYY-MM-DD.") from None
    if first >= last:
        raise InvalidRequest("startDate should be before endDate.")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidRequest(f"startDate and endDate should be within {MAX_RANGE_DAYS} days.")
    return first, last
