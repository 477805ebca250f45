"""Prometheus metrics, counted per process in prometheus_client's multiprocess files.

`mediavault serve` points PROMETHEUS_MULTIPROC_DIR at <data>/cache/metrics (emptied at each
start) before the workers are spawned; prometheus_client reads it when it is first imported,
so every worker writes its counters to memory-mapped files of its own there and GET /metrics,
whichever worker answers, adds them all up. Without the variable (tests, CLI commands) the
metrics live in the process's memory only. Gauges that describe the library (backlogs) are not
counted here: they are computed from the database when scraped (see `scrape`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.core import Metric

    # Created with prometheus_client when one of them is first used (`__getattr__`).
    CONTENT_TYPE: str
    REQUESTS: Counter
    LATENCY: Histogram
    UPLOAD_BYTES: Counter
    DELIVERY_BYTES: Counter
    VERSIONS_CREATED: Counter
    VERSIONS_RESTORED: Counter
    VERSIONS_DELETED: Counter
    RENDITION_HITS: Counter
    RENDITION_MISSES: Counter
    RENDITION_BYTES: Counter
    WEBHOOK_DELIVERIES: Counter
    STORAGE_ERRORS: Counter

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


_created: SimpleNamespace | None = None
_creating = threading.Lock()


def _metrics() -> SimpleNamespace:
    """The metrics, created once, when first used (from any thread): importing
    prometheus_client costs every process 1.5 to 3 MB (issue 11), and the `serve` supervisor
    and most CLI commands never count anything. PROMETHEUS_MULTIPROC_DIR is set before."""
    global _created
    if _created is None:
        with _creating:
            if _created is None:
                _created = _create()
    return _created


def _create() -> SimpleNamespace:
    from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram

    return SimpleNamespace(
        CONTENT_TYPE=CONTENT_TYPE_LATEST,
        REQUESTS=Counter(
            "mediavault_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
        ),
        LATENCY=Histogram(
            "mediavault_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by route template.",
            ["route"],
            buckets=BUCKETS,
        ),
        UPLOAD_BYTES=Counter(
            "mediavault_upload_received_bytes_total",
            "Request body bytes received by the upload routes.",
        ),
        DELIVERY_BYTES=Counter(
            "mediavault_delivery_sent_bytes_total", "Response body bytes sent by delivery URLs."
        ),
        VERSIONS_CREATED=Counter(
            "mediavault_versions_created_total",
            "Versions created by uploads (a new file's first too).",
        ),
        VERSIONS_RESTORED=Counter(
            "mediavault_versions_restored_total", "Restores that made an older version current."
        ),
        VERSIONS_DELETED=Counter(
            "mediavault_versions_deleted_total", "Versions deleted (by the API or by retention)."
        ),
        RENDITION_HITS=Counter(
            "mediavault_rendition_cache_hits_total",
            "Transformed deliveries served from the cache.",
        ),
        RENDITION_MISSES=Counter(
            "mediavault_rendition_cache_misses_total",
            "Transformed deliveries that had to render.",
        ),
        RENDITION_BYTES=Counter(
            "mediavault_rendition_cache_written_bytes_total",
            "Bytes of renditions added to the cache.",
        ),
        WEBHOOK_DELIVERIES=Counter(
            "mediavault_webhook_deliveries_total",
            "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), "
            "given_up (failed for the last time).",
            ["outcome"],
        ),
        STORAGE_ERRORS=Counter(
            "mediavault_storage_errors_total",
            "Requests failed by the database or the blob store (answered 5xx).",
            ["store"],
        ),
    )


def __getattr__(name: str) -> Any:
    """`metrics.REQUESTS` and the others: created at the first use of any of them."""
    if name.isupper() and not name.startswith("_"):
        with contextlib.suppress(AttributeError):
            return getattr(_metrics(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FLUSH_SECONDS = 1.0
_BOUNDS = (*BUCKETS, float("inf"))


class RequestTally:
    """Requests and bytes counted in plain Python values, added to the shared metrics (the
    memory-mapped files) by `flush`: every FLUSH_SECONDS, before this process answers a scrape,
    and at shutdown. A counter increment in multiprocess mode takes a lock and packs a value
    into the mapping (some microseconds); per request that was a counter, a histogram's sum and
    bucket, and a byte counter. Here it is a dictionary update, on the event loop's thread
    only (so no lock), and another worker's counts reach a scrape within FLUSH_SECONDS.
    """

    def __init__(self) -> None:
        # (route, method, status) -> [requests, seconds, requests per latency bucket]
        self._pending: dict[tuple[str, str, int], list[Any]] = {}
        self.upload_bytes = 0
        self.delivery_bytes = 0
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = [0, 0.0, [0] * len(_BOUNDS)]
        entry[0] += 1
        entry[1] += seconds
        entry[2][bisect_left(_BOUNDS, seconds)] += 1  # the first bucket whose bound holds it

    def flush(self) -> None:
        """On the event loop's thread, like `count`."""
        if not (self._pending or self.upload_bytes or self.delivery_bytes):
            return  # nothing counted: nothing to write (and prometheus_client not needed yet)
        metrics = _metrics()
        pending, self._pending = self._pending, {}
        for key, (requests, seconds, buckets) in pending.items():
            children = self._children.get(key)
            if children is None:
                route, method, status = key
                children = (
                    metrics.REQUESTS.labels(route, method, str(status)),
                    metrics.LATENCY.labels(route),
                )
                if len(self._children) < 4096:
                    self._children[key] = children
            counter, histogram = children
            counter.inc(requests)
            # What Histogram.observe does for one value, for many at once: its sum, and each
            # bucket's count (stored per bucket, made cumulative when scraped).
            histogram._sum.inc(seconds)
            for index, observed in enumerate(buckets):
                if observed:
                    histogram._buckets[index].inc(observed)
        if self.upload_bytes:
            metrics.UPLOAD_BYTES.inc(self.upload_bytes)
            self.upload_bytes = 0
        if self.delivery_bytes:
            metrics.DELIVERY_BYTES.inc(self.delivery_bytes)
            self.delivery_bytes = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


# This process's: its app counts in it (api/observability.py) and runs its flush.
TALLY = RequestTally()

# A backlog figure computed when scraped: (name, help, function returning the value).
Backlog = tuple[str, str, Callable[[], float]]


def prepare_multiprocess_dir(folder: Path) -> None:
    """Empty `folder` and name it in the environment, before any worker is spawned."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def scrape(backlogs: Iterable[Backlog]) -> bytes:
    """The text exposition of every worker's counters and of the backlogs, computed now."""
    from prometheus_client import REGISTRY as PROCESS_REGISTRY
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    _metrics()  # this process's own, in the registry even if nothing has been counted yet
    folder = os.environ.get(MULTIPROC_ENV)
    registry: CollectorRegistry
    if folder:
        from prometheus_client import multiprocess

        _forget_dead_workers(Path(folder))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(PROCESS_REGISTRY))
    registry.register(_Backlogs(list(backlogs)))
    return generate_latest(registry)


_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def _forget_dead_workers(folder: Path) -> None:
    """Live gauges of workers granian has replaced are dropped; their counters stay counted."""
    from prometheus_client import multiprocess

    pids = {int(m[1]) for p in folder.glob("*.db") if (m := _PID_IN_NAME.search(p.name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        except PermissionError:
            pass


class _Forward:
    """The process registry's metrics, inside the scrape's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Backlogs:
    def __init__(self, backlogs: list[Backlog]) -> None:
        self._backlogs = backlogs

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        for name, documentation, value in self._backlogs:
            with contextlib.suppress(Exception):  # a scrape never fails on one figure
                yield GaugeMetricFamily(name, documentation, value=value())
