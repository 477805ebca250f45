"""Upload by URL: stream a remote file into a staged blob, with limits (spec §5.3).

Only http and https. No server-side request forgery: every connection goes through
`VettedNetwork`, which resolves the host name once, refuses it unless every address it resolves
to is public (see media/addresses.py), and connects the socket to one of those very addresses.
Nothing resolves the name a second time, so a DNS answer that changes between the check and the
connection (DNS rebinding) reaches nothing it was not vetted for. The request still names the
original host (Host header, TLS SNI and certificate check), so virtual hosts and HTTPS work.
Redirects are followed by hand, at most five, and each hop's host goes through the same check.

httpx's own transport cannot take a network backend, so this speaks through httpcore, the
connection layer httpx itself is built on; httpx only parses and joins the URLs.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx
from anyio import to_thread

from mediavault import __version__
from mediavault.errors import FileTooLarge, InvalidRequest
from mediavault.media.addresses import IPAddress, is_public, parse_literal
from mediavault.storage.blobs import BlobStore, StagedBlob

MAX_REDIRECTS = 5
CHUNK_BYTES = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# host, port -> every address the name resolves to.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
# Whether a connection to the address is allowed.
AddressPolicy = Callable[[IPAddress], bool]


def download_failed(why: str) -> InvalidRequest:
    return InvalidRequest(
        f"Your request contains invalid file parameter. The file could not be downloaded "
        f"from the URL: {why}."
    )


def only_http() -> InvalidRequest:
    return InvalidRequest(
        "Your request contains invalid file parameter. Only http and https URLs can be "
        "uploaded from."
    )


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's resolver (getaddrinfo in a worker thread)."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found: dict[IPAddress, None] = {}
    for info in infos:
        address = parse_literal(str(info[4][0]))
        if address is not None:
            found[address] = None
    return list(found)


def allow_everything(_: IPAddress) -> bool:
    return True


class VettedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, connecting only to addresses resolved once and vetted."""

    def __init__(self, resolve: Resolver, allowed: AddressPolicy, resolve_timeout: float) -> None:
        self._resolve = resolve
        self._allowed = allowed
        self._resolve_timeout = resolve_timeout
        self._sockets = httpcore.AnyIOBackend()

    async def vetted_addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        literal = parse_literal(host)
        if literal is not None:
            addresses: Sequence[IPAddress] = [literal]
        else:
            try:
                with anyio.fail_after(self._resolve_timeout):
                    addresses = await self._resolve(host, port)
            except TimeoutError:
                raise httpcore.ConnectTimeout("the host name did not resolve in time") from None
        if not addresses:
            raise download_failed("the host name does not resolve")
        # Every address, not only the first: a name that also resolves to a private address is
        # refused, or a client retrying on another address could end up inside.
        if not all(self._allowed(address) for address in addresses):
            raise download_failed("the host is not a public address")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        refused: httpcore.ConnectError | None = None
        for address in await self.vetted_addresses(host, port):
            try:
                # An address literal: the socket layer connects to it without resolving.
                return await self._sockets.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                refused = exc  # try the next vetted address; a timeout ends the attempt
        assert refused is not None
        raise refused

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("upload by URL connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._sockets.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # httpx's context: certifi's CA bundle, hostname checks on. Built once: loading the bundle
    # takes longer than a small download.
    return httpx.create_ssl_context()


async def fetch_to_staging(
    url: str,
    blobs: BlobStore,
    max_bytes: int,
    timeout_seconds: float,
    allow_private: bool,
    *,
    resolver: Resolver = system_resolver,
    allowed: AddressPolicy | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> StagedBlob:
    """Download `url` into a staged blob. `resolver`, `allowed` and `ssl_context` are for tests;
    `allowed` defaults to public addresses only, or everything with `allow_private`."""
    if allowed is None:
        allowed = allow_everything if allow_private else is_public
    network = VettedNetwork(resolver, allowed, timeout_seconds)
    timeouts = {"connect": timeout_seconds, "read": timeout_seconds, "write": timeout_seconds}
    async with httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or _default_ssl_context(),
        network_backend=network,
        retries=0,
    ) as pool:
        target = _parse(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with pool.stream(
                    "GET",
                    httpcore.URL(
                        scheme=target.raw_scheme,
                        host=target.raw_host,
                        port=target.port,
                        target=target.raw_path,
                    ),
                    headers=[
                        (b"Host", target.netloc),
                        (b"User-Agent", f"mediavault/{__version__}".encode()),
                        # The bytes as stored at the origin, not a compressed transfer form.
                        (b"Accept-Encoding", b"identity"),
                    ],
                    extensions={"timeout": timeouts},
                ) as response:
                    headers = {k.lower(): v for k, v in response.headers}
                    if response.status in _REDIRECTS and b"location" in headers:
                        target = _parse(headers[b"location"].decode("latin-1"), base=target)
                        continue
                    if not 200 <= response.status < 300:
                        raise download_failed(f"the server answered {response.status}")
                    return await _stage(response, headers, blobs, max_bytes)
            except httpcore.TimeoutException:
                raise download_failed("the server did not answer in time") from None
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                raise download_failed(type(exc).__name__) from None
    raise download_failed("too many redirects")


def _parse(url: str, base: httpx.URL | None = None) -> httpx.URL:
    try:
        parsed = base.join(url) if base is not None else httpx.URL(url)
    except httpx.InvalidURL:
        raise only_http() from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise only_http()
    return parsed


async def _stage(
    response: httpcore.Response, headers: dict[bytes, bytes], blobs: BlobStore, max_bytes: int
) -> StagedBlob:
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FileTooLarge()
    writer = blobs.stage(max_bytes)
    try:
        pending = bytearray()
        async for chunk in response.aiter_stream():
            pending += chunk
            if len(pending) >= CHUNK_BYTES:
                data, pending = bytes(pending), bytearray()
                await to_thread.run_sync(writer.write, data)
        await to_thread.run_sync(writer.write, bytes(pending))
        return await to_thread.run_sync(writer.finish)
    except BaseException:
        writer.abort()
        raise
