"""Folder bulk jobs (spec §3): copy, move and rename a folder; the job's status."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from mediavault.api import forms, openapi
from mediavault.api.context import context_of
from mediavault.api.guards import MANAGEMENT_GUARDS
from mediavault.api.idempotency import idempotently
from mediavault.api.openapi import documented
from mediavault.serializers import bulk_job_object
from mediavault.services import bulk_jobs

_STARTED = {200: ("The job is created; poll `GET /v1/bulkJobs/{jobId}`.", openapi.BULK_JOB_ID)}
_MISSING = {404: "No files & folder found at the source folder."}


@post(
    "/copyFolder",
    status_code=200,
    summary="Copy a folder into another, optionally with every version of its files",
    operation_class=documented(
        _STARTED, body=openapi.COPY_FOLDER, errors=_MISSING, idempotent=True
    ),
)
async def copy_folder(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        source = forms.required_string(body, "sourceFolderPath")
        destination = forms.required_string(body, "destinationPath")
        # The older SDKs' name for the flag; includeVersions wins when both are sent.
        legacy = forms.optional_boolean(body, "includeFileVersions", default=False)
        include = forms.optional_boolean(body, "includeVersions", default=legacy)
        ctx = context_of(request)
        start = bulk_jobs.start_copy
        job_id = await to_thread.run_sync(start, ctx.stores, source, destination, include)
        ctx.bulk_jobs.wake()
        return Response({"jobId": job_id}, status_code=200)

    return await idempotently(request, run)


@post(
    "/moveFolder",
    status_code=200,
    summary="Move a folder into another, with every version of its files",
    operation_class=documented(
        _STARTED, body=openapi.MOVE_FOLDER, errors=_MISSING, idempotent=True
    ),
)
async def move_folder(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        source = forms.required_string(body, "sourceFolderPath")
        destination = forms.required_string(body, "destinationPath")
        ctx = context_of(request)
        job_id = await to_thread.run_sync(bulk_jobs.start_move, ctx.stores, source, destination)
        ctx.bulk_jobs.wake()
        return Response({"jobId": job_id}, status_code=200)

    return await idempotently(request, run)


@post(
    "/renameFolder",
    status_code=200,
    summary="Rename a folder; its files and subfolders keep their ids and versions",
    operation_class=documented(
        _STARTED,
        body=openapi.RENAME_FOLDER,
        errors={**_MISSING, 409: "A folder of that name already exists beside it."},
        idempotent=True,
    ),
)
async def rename_folder(request: Request[Any, Any, Any]) -> Response[Any]:
    async def run() -> Response[Any]:
        body = forms.json_object(await request.body())
        folder_path = forms.required_string(body, "folderPath")
        new_name = forms.required_string(body, "newFolderName")
        purge = forms.optional_boolean(body, "purgeCache", default=False)
        ctx = context_of(request)
        job_id = await to_thread.run_sync(
            bulk_jobs.start_rename, ctx.stores, folder_path, new_name, purge, ctx.purges
        )
        ctx.bulk_jobs.wake()
        return Response({"jobId": job_id}, status_code=200)

    return await idempotently(request, run)


@get(
    "/{job_id:str}",
    summary="A bulk job's status",
    operation_class=documented(
        {200: ("The job.", openapi.BULK_JOB)}, errors={404: "The requested job does not exist."}
    ),
)
async def get_job(request: Request[Any, Any, Any], job_id: FromPath[str]) -> dict[str, Any]:
    job = await to_thread.run_sync(bulk_jobs.get_job, context_of(request).stores, job_id)
    return bulk_job_object(job)


router = Router(
    path="/v1/bulkJobs",
    guards=MANAGEMENT_GUARDS,
    tags=["folders"],
    route_handlers=[copy_folder, move_folder, rename_folder, get_job],
)
