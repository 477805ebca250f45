"""GET /v1/accounts/usage (spec §6): bandwidth and storage over a range of days."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, get

from mediavault.api import openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.services import bandwidth


@get(
    "/v1/accounts/usage",
    summary="Bytes delivered on the days [startDate, endDate) and bytes stored",
    tags=["accounts"],
    guards=MANAGEMENT_GUARDS,
    operation_class=documented(
        {200: ("The counters.", openapi.ACCOUNT_USAGE)}, query=openapi.ACCOUNT_USAGE_QUERY
    ),
    opt=openapi.accepts(openapi.ACCOUNT_USAGE_QUERY),
)
async def account_usage(request: Request[Any, Any, Any]) -> dict[str, Any]:
    params = request.query_params
    start, end = params.get("startDate"), params.get("endDate")
    found = await to_thread.run_sync(
        bandwidth.account_usage, context_of(request).stores, start, end
    )
    return {
        "bandwidthBytes": found.bandwidth_bytes,
        "mediaLibraryStorageBytes": found.media_library_storage_bytes,
        "videoProcessingUnitsCount": found.video_processing_units_count,
        "extensionUnitsCount": found.extension_units_count,
        "originalCacheStorageBytes": found.original_cache_storage_bytes,
    }
