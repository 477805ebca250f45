"""GET /v1/storage: files, versions and bytes under a folder (beyond ImageKit)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, get

from mediavault.api import openapi, paging
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.serializers import storage_usage_object
from mediavault.services import usage


@get(
    "/v1/storage",
    summary="Storage used under a folder (beyond ImageKit)",
    tags=["storage"],
    guards=MANAGEMENT_GUARDS,
    operation_class=documented(
        {200: ("The figures.", openapi.STORAGE_USAGE)}, query=openapi.STORAGE_QUERY
    ),
    opt=openapi.accepts(openapi.STORAGE_QUERY),
)
async def storage_usage(request: Request[Any, Any, Any]) -> dict[str, Any]:
    path = paging.folder(request.query_params)
    found = await to_thread.run_sync(usage.storage_usage, context_of(request).stores, path)
    return storage_usage_object(found)
