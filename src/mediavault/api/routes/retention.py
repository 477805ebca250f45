"""Beyond ImageKit: retention policies (/v1/retentionPolicies) and version pins."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Router, delete, get, post, put
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import AppContext, context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.openapi import documented
from mediavault.serializers import policy_object, retention_plan
from mediavault.services import pins, retention

_POLICY_ERRORS = {404: "No retention policy with this id, or an unknown route."}


@post(
    "/",
    status_code=201,
    summary="Create the retention policy of a folder (one per folder)",
    operation_class=documented(
        {201: ("The new policy.", openapi.RETENTION_POLICY)},
        body=openapi.RETENTION_POLICY_CREATE,
        errors={409: "The folder already has a policy; delete it first."},
    ),
)
async def create_policy(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = forms.json_object(await request.body())
    stores = context_of(request).stores
    return policy_object(await to_thread.run_sync(retention.create_policy, stores, body))


@get(
    "/",
    summary="List retention policies",
    operation_class=documented({200: ("Every policy.", openapi.RETENTION_POLICY_LIST)}),
)
async def list_policies(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    found = await to_thread.run_sync(retention.list_policies, context_of(request).stores)
    return [policy_object(policy) for policy in found]


@delete(
    "/{policy_id:str}",
    status_code=204,
    summary="Delete a retention policy",
    operation_class=documented({204: ("Deleted.", None)}, errors=_POLICY_ERRORS),
)
async def delete_policy(request: Request[Any, Any, Any], policy_id: FromPath[str]) -> None:
    await to_thread.run_sync(retention.delete_policy, context_of(request).stores, policy_id)


@post(
    "/{policy_id:str}/preview",
    status_code=200,
    summary="What applying a policy would delete now; changes nothing",
    operation_class=documented(
        {200: ("The versions it would delete.", openapi.RETENTION_PREVIEW)},
        errors=_POLICY_ERRORS,
    ),
)
async def preview_policy(
    request: Request[Any, Any, Any], policy_id: FromPath[str]
) -> dict[str, Any]:
    plan = await to_thread.run_sync(retention.preview, context_of(request).stores, policy_id)
    return retention_plan(plan.removals, plan.bytes_freed)


@put(
    "/{file_id:str}/versions/{version_id:str}/pin",
    status_code=204,
    summary="Pin a version: retention keeps it, and it cannot be deleted",
    operation_class=documented({204: ("Pinned.", None)}),
)
async def pin_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> None:
    stores = context_of(request).stores
    await to_thread.run_sync(pins.set_pinned, stores, file_id, version_id, True)


@delete(
    "/{file_id:str}/versions/{version_id:str}/pin",
    status_code=204,
    summary="Unpin a version",
    operation_class=documented({204: ("Unpinned.", None)}),
)
async def unpin_version(
    request: Request[Any, Any, Any], file_id: FromPath[str], version_id: FromPath[str]
) -> None:
    stores = context_of(request).stores
    await to_thread.run_sync(pins.set_pinned, stores, file_id, version_id, False)


policies_router = Router(
    path="/v1/retentionPolicies",
    guards=MANAGEMENT_GUARDS,
    tags=["retention"],
    route_handlers=[create_policy, list_policies, delete_policy, preview_policy],
)
pins_router = Router(
    path="/v1/files",
    guards=MANAGEMENT_GUARDS,
    tags=["retention"],
    route_handlers=[pin_version, unpin_version],
)


async def include_pinned(
    request: Request[Any, Any, Any], ctx: AppContext, file_id: str, objects: list[dict[str, Any]]
) -> None:
    """`?include=pinned` on the version reads: add `pinned` to each File object. Without it the
    objects stay ImageKit's, so the SDKs' models see nothing new."""
    include = request.query_params.get("include")
    if include is None:
        return
    if include != "pinned":
        raise forms.invalid("include", 'Its only value is "pinned".')
    pinned = await to_thread.run_sync(pins.pinned_version_ids, ctx.stores, file_id)
    for item in objects:
        item["pinned"] = item["versionInfo"]["id"] in pinned
