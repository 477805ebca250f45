"""Small writes (issue 11): mediavault's create-version against SeaweedFS's PUT, 10 KiB each.

    .venv/bin/python bench/writes.py [--seconds 8] [--clients 16] [--sequential 400] [--rounds 3]

Two figures, each against the peer measured in the same run, with the same client:

- latency of one 10 KiB version, sequential (one client, keep-alive): the median of
  `--sequential` uploads of new versions of one file a round, against the median of as many
  PUTs of new versions of one key into SeaweedFS's versioned bucket;
- `--clients` concurrent clients, each uploading 10 KiB versions of a file of its own for
  `--seconds` a round: throughput (acknowledged writes per second) and p99 latency, against
  the same number of clients each PUTting versions of a key of its own.

Both servers run throughout; each of `--rounds` rounds measures one, then the other (the order
alternates), and the rounds' latencies are pooled: on a shared machine whose load drifts, both
sides see the same drift.

With one worker, the same client also measures the routes of bench/upload_floor_app.py, a bare
Starlette app that reads the same form and does only part of an upload's work (parse; store a
durable file; commit a row; or append to a pack file with one group sync), reported without a
target: what this machine allows a Python upload to cost, design by design.

Every body differs (a counter in its first bytes), so mediavault publishes a new blob for each
upload rather than finding the bytes already stored. The client is a few lines over raw
sockets, with each request's bytes built before it is timed, so that it leaves the two cores
to the servers; an answer counts only when it is a 200. `bench/suite.py` calls `measure_writes`
and prints the figures with the rest of the suite; run alone, this prints them for mediavault
on the embedded default (SQLite and local disk, one worker unless `--workers` says more).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import TEST_KEY, ServerProcess, free_port

SIZE = 10 * 1024
BOUNDARY = b"----mediavault-bench-7f3a9c"
AUTHORIZATION = "Basic " + base64.b64encode(f"{TEST_KEY}:".encode()).decode()


# --- a lean HTTP/1.1 client ----------------------------------------------------------------


class Connection:
    """One keep-alive connection; `send` writes a whole request and reads its answer."""

    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def send(self, request: bytes) -> tuple[int, bytes]:
        self._sock.sendall(request)
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("chunked answers are not expected here")
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, body

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk

    def close(self) -> None:
        self._sock.close()


def content(n: int, client: int) -> bytes:
    """10 KiB that differ from every other request's."""
    head = f"{client:04d}-{n:012d}-".encode()
    return head + _FILLER[len(head) :]


_FILLER = os.urandom(SIZE)


def upload_body(stem: str, n: int, data: bytes) -> bytes:
    """The multipart form of the n-th write to /bench-writes/<stem>-*.bin: fileName, folder,
    useUniqueFileName, then the file."""

    def part(name: str, value: bytes, filename: str | None = None) -> bytes:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        head = f"Content-Disposition: {disposition}\r\n"
        if filename:
            head += "Content-Type: application/octet-stream\r\n"
        return b"--" + BOUNDARY + b"\r\n" + head.encode() + b"\r\n" + value + b"\r\n"

    file_name = f"{stem}-{n // 100:04d}.bin"
    return (
        part("fileName", file_name.encode())
        + part("folder", b"/bench-writes")
        + part("useUniqueFileName", b"false")
        + part("file", data, file_name)
        + b"--"
        + BOUNDARY
        + b"--\r\n"
    )


def mediavault_upload(
    host: str, stem: str, path: str = "/api/v1/files/upload"
) -> Callable[[int, bytes], bytes]:
    """The request that uploads `data` as the n-th write to /bench-writes/<stem>-*.bin: a new
    version of the file, or every 100th write a new file (ImageKit's limit is 100 versions
    a file)."""

    def request(n: int, data: bytes) -> bytes:
        body = upload_body(stem, n, data)
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {AUTHORIZATION}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return request


def floor_upload(route: str) -> Maker:
    """mediavault's upload request (the same form, the same bytes) sent to a route of
    bench/upload_floor_app.py."""
    return lambda host, stem: mediavault_upload(host, stem, route)


FLOOR_ROUTES = {
    "parse": "read the form and hash the file",
    "durable": "and store it durably (create, fdatasync, rename, fsync dir)",
    "durable-row": "and commit one SQLite row (synchronous=FULL)",
    "packed-row": "append it to one pack file, commit a row, one group sync of both",
}


def seaweedfs_put(host: str, stem: str) -> Callable[[int, bytes], bytes]:
    """The request that PUTs `data` as a new version of bench/<stem>.bin."""

    def request(_n: int, data: bytes) -> bytes:
        return (
            f"PUT /bench/{stem}.bin HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    return request


# --- the measurements ----------------------------------------------------------------------


@dataclass
class Writes:
    sequential_ms: list[float]  # each sequential write's latency
    writes: int  # concurrent: acknowledged writes
    seconds: float  # concurrent: how long they took
    concurrent_ms: list[float]  # each concurrent write's latency

    @property
    def median_ms(self) -> float:
        return statistics.median(self.sequential_ms)

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.concurrent_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.concurrent_ms, 99)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


Maker = Callable[[str, str], Callable[[int, bytes], bytes]]


def sequential(url: str, make: Maker, count: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    request = make(f"{host}:{port}", f"s-{os.urandom(4).hex()}")
    connection = Connection(host, int(port))
    latencies = []
    try:
        for n in range(count + count // 10):  # the first tenth warms up, untimed
            message = request(n, content(n, 9999))
            started = time.perf_counter()
            status, body = connection.send(message)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"write answered {status}: {body[:300]!r}")
            if n >= count // 10:
                latencies.append(elapsed * 1000)
    finally:
        connection.close()
    return latencies


def concurrent(
    url: str, make: Maker, clients: int, seconds: float
) -> tuple[int, float, list[float]]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    state = {"stop": float("inf")}  # until every client is ready
    run = os.urandom(4).hex()  # files of their own, whatever ran before on the server

    def client(index: int) -> None:
        request = make(f"{host}:{port}", f"c{index:02d}-{run}")
        connection = Connection(host, int(port))
        mine = latencies[index]
        try:
            connection.send(request(0, content(0, index)))  # the file exists before timing
            start.wait()
            n = 1
            while time.perf_counter() < state["stop"]:
                message = request(n, content(n, index))
                began = time.perf_counter()
                status, body = connection.send(message)
                mine.append((time.perf_counter() - began) * 1000)
                if status != 200:
                    raise RuntimeError(f"write answered {status}: {body[:300]!r}")
                n += 1
        except BaseException as exc:
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                start.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=120)
    began = time.perf_counter()
    state["stop"] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"a writer failed: {errors[0]!r}")
    every = [ms for each in latencies for ms in each]
    return len(every), elapsed, every


@dataclass
class WritesRun:
    mediavault: Writes
    peer: Writes
    clients: int
    workers: int
    # bench/upload_floor_app.py's routes, measured beside them (one worker only)
    floors: dict[str, Writes] = field(default_factory=dict)


def measure_writes(
    root: Path,
    workers: int,
    seaweedfs: Callable[[Path], AbstractContextManager[str]],
    *,
    clients: int = 16,
    seconds: float = 8,
    count: int = 400,
    rounds: int = 3,
    floors: bool = True,
) -> WritesRun:
    """mediavault (SQLite and local disk, `workers` workers) and SeaweedFS, each on a fresh
    data folder, both running throughout. Each round measures both, in turn, with the same
    client (who goes first alternates), so that a machine whose load drifts affects both
    alike: per side, `count` sequential writes and `seconds` of concurrent ones a round. The
    latencies of every round are pooled. With one worker and `floors`, the routes of
    bench/upload_floor_app.py are measured too, in the same rounds: what a bare ASGI app
    doing only part of an upload's work achieves on the same machine."""
    # Dirty pages of whatever ran before (the suite's gigabyte upload) would otherwise still be
    # written back during the first rounds, and every fsync here would wait behind them.
    os.sync()
    here, peer_dir = root / f"writes-data-{workers}", root / f"writes-peer-{workers}"
    here.mkdir()
    peer_dir.mkdir()
    server = ServerProcess(data=here / "data", port=free_port(), workers=workers)
    server.start()
    runs: dict[str, list[Writes]] = {"mediavault": [], "peer": []}
    try:
        with seaweedfs(peer_dir) as s3, ExitStack() as floor:
            sides: list[tuple[str, str, Maker]] = [
                ("mediavault", server.base_url, mediavault_upload),
                ("peer", s3, seaweedfs_put),
            ]
            if floors and workers == 1:
                url = floor.enter_context(upload_floor(root / f"floor-{workers}"))
                sides += [(route, url, floor_upload(f"/{route}")) for route in FLOOR_ROUTES]
            for round_ in range(rounds):
                for name, url, make in sides if round_ % 2 == 0 else sides[::-1]:
                    seq = sequential(url, make, count)
                    writes, elapsed, every = concurrent(url, make, clients, seconds)
                    runs.setdefault(name, []).append(Writes(seq, writes, elapsed, every))
    finally:
        server.stop()
    measured_floors = {route: _pooled(runs[route]) for route in FLOOR_ROUTES if route in runs}
    return WritesRun(
        _pooled(runs["mediavault"]), _pooled(runs["peer"]), clients, workers, measured_floors
    )


@contextlib.contextmanager
def upload_floor(root: Path) -> Iterator[str]:
    """bench/upload_floor_app.py with one worker, its data in `root`."""
    from suite import process  # bench/suite.py, beside this file

    port = free_port()
    here = Path(__file__).resolve().parent
    command = [sys.executable, str(here / "upload_floor_app.py"), "--port", str(port),
               "--data", str(root / "data"), "--workers", "1"]  # fmt: skip
    root.mkdir()
    with process(command, f"http://127.0.0.1:{port}/parse", root / "floor.log", cwd=here):
        yield f"http://127.0.0.1:{port}"


def _pooled(runs: list[Writes]) -> Writes:
    return Writes(
        [ms for run in runs for ms in run.sequential_ms],
        sum(run.writes for run in runs),
        sum(run.seconds for run in runs),
        [ms for run in runs for ms in run.concurrent_ms],
    )


def rows(run: WritesRun) -> Iterator[tuple[str, float, float, str, float, str, bool | None]]:
    """(figure, mediavault, baseline, unit, ratio, target, passed) for each write figure.

    Issue 11's targets are for one worker (the embedded default); with more, the figures are
    reported without a target."""
    mv, peer, n = run.mediavault, run.peer, run.clients
    on = f"{run.workers} worker{'s' if run.workers > 1 else ''}"
    targeted = run.workers == 1

    def target(text: str, met: bool) -> tuple[str, bool | None]:
        return (text, met) if targeted else ("report", None)

    yield (f"create a version, 10 KiB, sequential, {on}: median latency ÷ SeaweedFS PUT",
           mv.median_ms, peer.median_ms, "ms", mv.median_ms / peer.median_ms,
           *target("≤ 1.0", mv.median_ms <= peer.median_ms))  # fmt: skip
    yield (f"{n} clients writing 10 KiB versions of distinct files, {on}: writes/s ÷ "
           "SeaweedFS PUT", mv.per_second, peer.per_second, "writes/s",
           mv.per_second / peer.per_second,
           *target("≥ 1.0", mv.per_second >= peer.per_second))  # fmt: skip
    yield (f"{n} clients writing 10 KiB versions, {on}: p99 latency (SeaweedFS PUT's beside "
           "it)", mv.p99_ms, peer.p99_ms, "ms", mv.p99_ms / peer.p99_ms,
           *target("< 100 ms", mv.p99_ms < 100))  # fmt: skip
    for route, floor in run.floors.items():
        what = f"bare Starlette app (bench/upload_floor_app.py /{route}: {FLOOR_ROUTES[route]})"
        yield (f"{what}, sequential: median latency ÷ SeaweedFS PUT", floor.median_ms,
               peer.median_ms, "ms", floor.median_ms / peer.median_ms, "report", None)  # fmt: skip
        yield (f"{what}, {n} clients: writes/s ÷ SeaweedFS PUT", floor.per_second,
               peer.per_second, "writes/s", floor.per_second / peer.per_second, "report",
               None)  # fmt: skip


def notes(run: WritesRun) -> str:
    mv, peer = run.mediavault, run.peer
    return (
        f"Writes, {run.workers} worker(s): sequential p99 "
        f"{percentile(mv.sequential_ms, 99):.1f} ms (SeaweedFS "
        f"{percentile(peer.sequential_ms, 99):.1f} ms); {run.clients} clients p50 "
        f"{mv.p50_ms:.1f} ms (SeaweedFS {peer.p50_ms:.1f} ms), {mv.writes} writes in "
        f"{mv.seconds:.1f} s (SeaweedFS {peer.writes} in {peer.seconds:.1f} s)"
    )


def main() -> None:
    import tempfile

    from suite import seaweedfs  # bench/suite.py, beside this file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sequential", type=int, default=400, help="a round, per side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="issue 11's targets: one")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mv-writes-", dir=os.environ.get("BENCH_DIR")) as tmp:
        run = measure_writes(
            Path(tmp), args.workers, seaweedfs, clients=args.clients, seconds=args.seconds,
            count=args.sequential, rounds=args.rounds,
        )  # fmt: skip
    print("| figure | mediavault | baseline | ratio | target | result |")
    print("|---|---:|---:|---:|---|---|")
    for name, value, baseline, unit, ratio, target, passed in rows(run):
        result = "report" if passed is None else "pass" if passed else "FAIL"
        print(f"| {name} | {value:,.1f} {unit} | {baseline:,.1f} {unit} | {ratio:.2f} | "
              f"{target} | {result} |")  # fmt: skip
    print()
    print(notes(run))


if __name__ == "__main__":
    main()
