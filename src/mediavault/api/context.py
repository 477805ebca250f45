"""What the routes need, built once per worker in create_app and kept in app.state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from anyio import to_thread
from litestar import Request

from mediavault.api.answer_cache import AnswerCache, CachedAnswer, RecentKeys
from mediavault.config import Settings
from mediavault.services.bandwidth import BandwidthCounter
from mediavault.services.bulk_jobs import BulkJobRunner
from mediavault.services.purge import Purges
from mediavault.services.stores import Stores
from mediavault.urls import UrlBuilder

T = TypeVar("T")


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    stores: Stores
    urls: UrlBuilder
    private_key: str
    public_key: str
    # Bytes delivered, counted in memory and flushed now and then (services.bandwidth).
    bandwidth: BandwidthCounter
    purges: Purges
    bulk_jobs: BulkJobRunner
    # Encoded answers of the fast reads, each served again while its file's revision holds.
    answers: AnswerCache[CachedAnswer] = field(default_factory=AnswerCache)
    # Whole small deliveries, served again while their file's revision holds (delivery.py).
    deliveries: AnswerCache[Any] = field(default_factory=AnswerCache)
    # File objects' JSON by version (storage.listing.Listed.key), reused by listings while
    # their file's revision holds, and the listings (their parameters) answered lately.
    listed: AnswerCache[bytes] = field(default_factory=AnswerCache)
    listings: RecentKeys = field(default_factory=RecentKeys)


def context_of(request: Request[Any, Any, Any]) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def run_lookup(ctx: AppContext, lookup: Callable[..., T], *args: Any) -> T:
    """Run a single-statement read inline where that is cheaper than a thread (SQLite)."""
    if ctx.stores.meta.lookups_inline:
        return lookup(*args)
    return await to_thread.run_sync(lookup, *args)
