"""Upload by URL dials only what it vetted: resolve once, every hop checked, TLS for the name.

Real HTTP(S) servers on loopback addresses and a real local blob store; only the resolver and
the address policy are injected, because no test may depend on public DNS or public addresses.
The policy used here lets exactly 127.0.0.1 through (standing in for "a public address") and
judges everything else by the real rules, under which 127.0.0.2 (the "internal" server) is
refused. A test passes only if nothing ever reaches 127.0.0.2.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from mediavault.errors import InvalidRequest
from mediavault.media.addresses import IPAddress, is_public
from mediavault.media.fetch import VettedNetwork, fetch_to_staging, system_resolver
from mediavault.storage.blobs import LocalBlobStore, StagedBlob
from tests.support import free_port

PAYLOAD = b"the public file" * 1000
OUTSIDE = IPv4Address("127.0.0.1")
INSIDE = IPv4Address("127.0.0.2")


def allowed(address: IPAddress) -> bool:
    return address == OUTSIDE or is_public(address)


class Recorder(BaseHTTPRequestHandler):
    """Serves /file.bin, redirects /to?<url>, and records what each request looked like."""

    hits: list[tuple[str, str, str]]  # (server address, path, Host header), set per server

    def do_GET(self) -> None:
        self.hits.append((self.server.server_address[0], self.path, self.headers["Host"]))
        if self.path == "/file.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/to?"))
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(address: str, port: int, hits: list, tls: ssl.SSLContext | None = None) -> Iterator[None]:
    handler = type("Handler", (Recorder,), {"hits": hits})
    server = ThreadingHTTPServer((address, port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hits() -> list[tuple[str, str, str]]:
    return []


@pytest.fixture
def port(hits: list[tuple[str, str, str]]) -> Iterator[int]:
    """The same port on the outside and the inside address, both recording into `hits`."""
    number = free_port()
    for _ in serve(str(OUTSIDE), number, hits):
        for _ in serve(str(INSIDE), number, hits):
            yield number


class Resolver:
    """Answers from a table; a list of answers is used one per lookup (DNS rebinding)."""

    def __init__(self, table: dict[str, list[list[IPAddress]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups.append(host)
        answers = self.table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def fetch(url: str, blobs: LocalBlobStore, resolver: Resolver, **kwargs: object) -> StagedBlob:
    return asyncio.run(
        fetch_to_staging(url, blobs, 10**7, 3, False, resolver=resolver, allowed=allowed, **kwargs)  # type: ignore[arg-type]
    )


def read(blobs: LocalBlobStore, staged: StagedBlob) -> bytes:
    with blobs.open_staged(staged) as source:
        return source.read()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_a_name_is_resolved_once_and_the_socket_goes_to_the_vetted_address(
    blobs: LocalBlobStore, port: int, hits: list[tuple[str, str, str]]
) -> None:
    # First answer vetted and fine; every later lookup would say "inside" (DNS rebinding).
    resolver = Resolver({"files.test": [[OUTSIDE], [INSIDE], [INSIDE]]})
    staged = fetch(f"http://files.test:{port}/file.bin", blobs, resolver)
    assert read(blobs, staged) == PAYLOAD
    assert resolver.lookups == ["files.test"]
    # The request names the host it was asked for, on the address that was vetted.
    assert hits == [(str(OUTSIDE), "/file.bin", f"files.test:{port}")]


def test_every_resolved_address_is_vetted_not_only_the_first(
    blobs: LocalBlobStore, port: int, hits: list[tuple[str, str, str]]
) -> None:
    resolver = Resolver({"mixed.test": [[OUTSIDE, INSIDE]]})
    with pytest.raises(InvalidRequest, match="not a public address"):
        fetch(f"http://mixed.test:{port}/file.bin", blobs, resolver)
    assert hits == []


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}/file.bin",  # an address literal
        "http://inside.test:{port}/file.bin",  # a name that resolves inside
        "http://rebound.test:{port}/file.bin",  # a name vetted once, inside on the second hop
    ],
)
def test_a_redirect_to_a_refused_address_is_not_followed(
    blobs: LocalBlobStore, port: int, hits: list[tuple[str, str, str]], location: str
) -> None:
    resolver = Resolver(
        {
            "files.test": [[OUTSIDE]],
            "inside.test": [[INSIDE]],
            "rebound.test": [[INSIDE]],
        }
    )
    target = location.format(port=port)
    with pytest.raises(InvalidRequest, match="not a public address"):
        fetch(f"http://files.test:{port}/to?{target}", blobs, resolver)
    # The first hop was fetched; nothing reached the inside server.
    assert [hit[0] for hit in hits] == [str(OUTSIDE)]
    assert blobs.staging_count() == 0


def test_an_allowed_redirect_is_followed_through_the_same_checks(
    blobs: LocalBlobStore, port: int, hits: list[tuple[str, str, str]]
) -> None:
    resolver = Resolver({"files.test": [[OUTSIDE]], "cdn.test": [[OUTSIDE]]})
    url = f"http://files.test:{port}/to?http://cdn.test:{port}/file.bin"
    assert read(blobs, fetch(url, blobs, resolver)) == PAYLOAD
    assert resolver.lookups == ["files.test", "cdn.test"]
    assert [hit[2] for hit in hits] == [f"files.test:{port}", f"cdn.test:{port}"]


def test_numeric_host_spellings_are_judged_by_what_they_resolve_to() -> None:
    network = VettedNetwork(system_resolver, is_public, 5)
    for host in ("2130706433", "0x7f.1", "127.1", "017700000001", "localhost"):
        with pytest.raises(InvalidRequest, match="not a public address"):
            asyncio.run(network.vetted_addresses(host, 80))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a certificate for files.test, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:files.test\nbasicConstraints=CA:FALSE\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    for command in (
        f"req -x509 {key} -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca",
        f"req {key} -keyout leaf.key -out leaf.csr -subj /CN=files.test",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem "
        "-days 2 -extfile leaf.ext",
    ):
        subprocess.run(["openssl", *command.split()], cwd=folder, check=True, capture_output=True)
    return folder


def test_https_goes_to_the_vetted_address_with_the_name_for_sni_and_the_certificate(
    blobs: LocalBlobStore, certificates: Path
) -> None:
    server_names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    tls.sni_callback = lambda _sock, name, _ctx: server_names.append(name)  # type: ignore[assignment,func-returns-value]
    client_tls = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    hits: list[tuple[str, str, str]] = []
    number = free_port()
    resolver = Resolver({"files.test": [[OUTSIDE]], "other.test": [[OUTSIDE]]})
    for _ in serve(str(OUTSIDE), number, hits, tls):
        staged = fetch(
            f"https://files.test:{number}/file.bin", blobs, resolver, ssl_context=client_tls
        )
        assert read(blobs, staged) == PAYLOAD
        assert server_names == ["files.test"]
        assert hits == [(str(OUTSIDE), "/file.bin", f"files.test:{number}")]
        # Same address, another name: the certificate is checked against the name asked for.
        with pytest.raises(InvalidRequest, match="could not be downloaded"):
            fetch(f"https://other.test:{number}/file.bin", blobs, resolver, ssl_context=client_tls)
        assert len(hits) == 1
