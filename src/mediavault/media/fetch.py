"""Upload by URL: stream a remote file into a staged blob, with limits (spec §5.3).

Only http and https. Redirects are followed by hand, at most five, so that every hop is
checked. Unless allowed by setting, hosts that resolve to loopback, private, link-local or
reserved addresses are refused, so an upload cannot be used to probe the server's network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx
from anyio import to_thread

from mediavault.errors import FileTooLarge, InvalidRequest
from mediavault.storage.blobs import BlobStore, StagedBlob

MAX_REDIRECTS = 5
CHUNK_BYTES = 1024 * 1024


def download_failed(why: str) -> InvalidRequest:
    return InvalidRequest(
        f"Your request contains invalid file parameter. The file could not be downloaded "
        f"from the URL: {why}."
    )


async def fetch_to_staging(
    url: str,
    blobs: BlobStore,
    max_bytes: int,
    timeout_seconds: float,
    allow_private: bool,
) -> StagedBlob:
    timeout = httpx.Timeout(timeout_seconds, pool=timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_target(url, allow_private)
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if not response.is_success:
                        raise download_failed(f"the server answered {response.status_code}")
                    return await _stage(response, blobs, max_bytes)
            except httpx.TimeoutException:
                raise download_failed("the server did not answer in time") from None
            except httpx.HTTPError as exc:
                raise download_failed(type(exc).__name__) from None
    raise download_failed("too many redirects")


async def _stage(response: httpx.Response, blobs: BlobStore, max_bytes: int) -> StagedBlob:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FileTooLarge()
    writer = blobs.stage(max_bytes)
    try:
        pending = bytearray()
        async for chunk in response.aiter_bytes():
            pending += chunk
            if len(pending) >= CHUNK_BYTES:
                data, pending = bytes(pending), bytearray()
                await to_thread.run_sync(writer.write, data)
        await to_thread.run_sync(writer.write, bytes(pending))
        return await to_thread.run_sync(writer.finish)
    except BaseException:
        writer.abort()
        raise


async def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            "Your request contains invalid file parameter. Only http and https URLs can be "
            "uploaded from."
        )
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except socket.gaierror:
        raise download_failed("the host name does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise download_failed("the host is not a public address")
