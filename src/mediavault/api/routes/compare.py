"""Beyond ImageKit: compare two versions of a file (metadata, pixels, a difference image)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, get
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.errors import NotComparable
from mediavault.serializers import comparison_object
from mediavault.services import compare


@get(
    "/{file_id:str}/versions/{version_id:str}/compare/{other_version_id:str}",
    summary="Compare two versions: changed fields, and pixels when both are images",
    operation_class=openapi.with_png(
        documented(
            {200: ("The differences (a PNG with `heatmap=true`).", openapi.COMPARISON)},
            query=openapi.COMPARE_QUERY,
            errors={400: f"An invalid id or parameter; `{NotComparable.message}`"},
        )
    ),
    opt=openapi.accepts(openapi.COMPARE_QUERY),
)
async def compare_versions(
    request: Request[Any, Any, Any],
    file_id: FromPath[str],
    version_id: FromPath[str],
    other_version_id: FromPath[str],
) -> Response[Any]:
    ctx = context_of(request)
    heatmap = request.query_params.get("heatmap", "false")
    if heatmap not in ("true", "false"):
        raise forms.invalid("heatmap", "It must be true or false.")
    ids = (ctx.stores, file_id, version_id, other_version_id)
    if heatmap == "true":
        png = await to_thread.run_sync(compare.heatmap, *ids)
        return Response(png, media_type="image/png")
    result = await to_thread.run_sync(compare.compare_versions, *ids)
    return Response(comparison_object(result, ctx.urls))


router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["versions"],
    route_handlers=[compare_versions],
)
