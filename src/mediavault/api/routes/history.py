"""GET /v1/files/{fileId}/history: a file's events, newest first (beyond ImageKit)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, get
from litestar.params import FromPath

from mediavault.api import openapi, paging
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.serializers import file_event_object
from mediavault.services import history

DEFAULT_LIMIT = 100


@get(
    "/{file_id:str}/history",
    summary="A file's history, newest first (beyond ImageKit)",
    operation_class=documented(
        {200: ("One page of events.", openapi.HISTORY)}, query=openapi.HISTORY_QUERY
    ),
    opt=openapi.accepts(openapi.HISTORY_QUERY),
)
async def file_history(request: Request[Any, Any, Any], file_id: FromPath[str]) -> dict[str, Any]:
    params = request.query_params
    limit, after = paging.limit(params, DEFAULT_LIMIT), paging.cursor(params)
    stores = context_of(request).stores
    page = await to_thread.run_sync(history.file_history, stores, file_id, limit, after)
    return {
        "events": [file_event_object(event) for event in page.events],
        "next": None if page.next is None else str(page.next),
    }


router = Router(
    path="/v1/files", guards=MANAGEMENT_GUARDS, tags=["history"], route_handlers=[file_history]
)
