"""Image transformations (issue 12): mediavault against thumbor and against pyvips alone.

    .venv/bin/python bench/transform.py [--cold 60] [--seconds 4]

Figures, every baseline measured in the same run:
- cold rendition of a 12-megapixel JPEG to width 800 WebP, 2 concurrent clients, each request a
  rendition never made before (widths 800, 801, ...: the same list on both sides): mediavault
  (`/media/tr:w-N,f-webp/bench/big.jpg`) ÷ thumbor in its default configuration with the file
  loader (`/unsafe/Nx0/filters:format(webp)/big.jpg`); the ceiling is the same libvips operation
  in this process without HTTP (pyvips thumbnail + webpsave_buffer in 2 threads);
- warm (cached) `tr:w-300` delivery ÷ plain 10 KiB delivery, wrk -t1 -c32, same server;
- peak RSS of the server's whole process tree while it transforms a 50-megapixel JPEG to w-800.

thumbor lives in a venv of its own (bench/.peer-venv, created if missing) so that it cannot
disturb mediavault's dependencies. The output is Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pyvips
from PIL import Image, ImageChops, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import PeakRss, process, wrk  # bench/suite.py
from tests.support import TEST_KEY, ServerProcess, free_port

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".peer-venv"


# --- inputs -------------------------------------------------------------------------------


def make_jpeg(path: Path, width: int, height: int) -> Path:
    """Noise over gradients, blurred a little: compresses like a photograph, not like noise."""
    gx = Image.linear_gradient("L").resize((width, height))
    gy = Image.linear_gradient("L").rotate(90).resize((width, height))
    noise = Image.effect_noise((width, height), 48).filter(ImageFilter.GaussianBlur(1.2))
    coarse = Image.effect_noise((width // 40, height // 40), 90).resize((width, height))
    r = ImageChops.add(gx, noise, scale=1.6, offset=-40)
    g = ImageChops.blend(gy, coarse, 0.5)
    b = ImageChops.add(ImageChops.invert(gx), noise, scale=2.0)
    Image.merge("RGB", (r, g, b)).save(path, "JPEG", quality=90)
    return path


def peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not (PEER_VENV / "bin" / "thumbor").exists():
        subprocess.run(["python3", "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", "thumbor"], check=True)
    return python


def thumbor_version() -> str:
    out = subprocess.run([str(PEER_VENV / "bin" / "thumbor"), "--version"],
                         capture_output=True, text=True)  # fmt: skip
    return (out.stdout or out.stderr).strip().split(" (")[0]


# --- load ---------------------------------------------------------------------------------


def run_cold(urls: list[str], clients: int) -> tuple[float, float, list[float]]:
    """Each URL fetched once, by `clients` threads taking the next URL: (req/s, p50 ms, times)."""
    todo = list(reversed(urls))
    lock = threading.Lock()
    times: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=300) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    url = todo.pop()
                started = time.perf_counter()
                response = client.get(url)
                took = time.perf_counter() - started
                if response.status_code != 200 or not response.content.startswith(b"RIFF"):
                    errors.append(f"{url}: {response.status_code} {response.content[:200]!r}")
                with lock:
                    times.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError("cold requests failed:\n" + "\n".join(errors[:5]))
    return len(urls) / elapsed, statistics.median(times) * 1000, times


def run_ceiling(path: Path, widths: list[int], threads: int) -> tuple[float, float]:
    todo = list(reversed(widths))
    lock = threading.Lock()
    times: list[float] = []

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                width = todo.pop()
            started = time.perf_counter()
            data = pyvips.Image.thumbnail(str(path), width).webpsave_buffer(Q=80, keep="none")
            took = time.perf_counter() - started
            assert data.startswith(b"RIFF")
            with lock:
                times.append(took)

    pyvips.cache_set_max(0)  # no operation cache: every thumbnail computed
    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(widths) / (time.perf_counter() - started), statistics.median(times) * 1000


# --- the servers --------------------------------------------------------------------------


def upload(client: httpx.Client, name: str, content: bytes) -> None:
    response = client.post(
        "/api/v1/files/upload",
        files={"file": (name, content)},
        data={"fileName": name, "folder": "/bench", "useUniqueFileName": "false"},
    )
    response.raise_for_status()


def start_mediavault(data: Path) -> tuple[ServerProcess, httpx.Client]:
    server = ServerProcess(data=data, port=free_port(), workers=1).start()
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""), timeout=600)
    return server, client


def thumbor_command(root: Path, originals: Path, port: int) -> list[str]:
    conf = root / "thumbor.conf"
    conf.write_text(
        "ALLOW_UNSAFE_URL = True\n"
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(originals)!r}\n"
        # Where the default storage (file_storage) keeps the originals it has loaded: only the
        # folder is moved into the run's temporary folder; the storage itself is the default.
        f"FILE_STORAGE_ROOT_PATH = {str(root / 'thumbor-storage')!r}\n"
    )
    return [str(PEER_VENV / "bin" / "thumbor"), "--ip=127.0.0.1", f"--port={port}",
            f"--conf={conf}", "--processes=1", "--log-level=warning"]  # fmt: skip


def alternate(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run the measures in turns, `rounds` times each; the median of each."""
    results: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            results[name].append(measure())
    return {name: statistics.median(values) for name, values in results.items()}


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=60, help="cold renditions per side")
    parser.add_argument("--seconds", type=float, default=4, help="length of each wrk run")
    args = parser.parse_args()
    for name in ("MEDIAVAULT_TEST_DATABASE_URL", "MEDIAVAULT_TEST_BLOB_URL"):
        os.environ.pop(name, None)
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run bench/run, which installs it")
    peer_python()
    widths = [800 + n for n in range(args.cold)]

    with tempfile.TemporaryDirectory(prefix="mv-transform-", dir=os.environ.get("BENCH_DIR")) as t:
        root = Path(t)
        originals = root / "originals"
        originals.mkdir()
        big = make_jpeg(originals / "big.jpg", 4000, 3000)
        huge = make_jpeg(root / "huge.jpg", 8660, 5774)
        small = os.urandom(10 * 1024)

        # Peak RSS first, on a fresh server: only the upload has run on it.
        server, client = start_mediavault(root / "data-rss")
        try:
            upload(client, "huge.jpg", huge.read_bytes())
            time.sleep(1)
            assert server.process is not None
            with PeakRss(server.process.pid) as memory:
                parent = psutil.Process(server.process.pid)
                tree = [parent, *parent.children(recursive=True)]
                idle = sum(p.memory_info().rss for p in tree)
                time.sleep(0.2)
                started = time.perf_counter()
                response = client.get("/media/tr:w-800/bench/huge.jpg")
                huge_s = time.perf_counter() - started
                response.raise_for_status()
                time.sleep(0.2)
        finally:
            client.close()
            server.stop()

        # Cold renditions: mediavault, thumbor, pyvips alone; each side its own widths list,
        # the same list (every request a rendition that side has never made).
        server, client = start_mediavault(root / "data")
        try:
            upload(client, "big.jpg", big.read_bytes())
            upload(client, "small.bin", small)
            base = server.base_url
            # One rendition at another width first: imports, libvips start, page cache.
            client.get("/media/tr:w-700,f-webp/bench/big.jpg").raise_for_status()
            port = free_port()
            thumbor_url = f"http://127.0.0.1:{port}"
            with process(thumbor_command(root, originals, port), f"{thumbor_url}/healthcheck",
                         root / "thumbor.log"):  # fmt: skip
                warm = httpx.get(f"{thumbor_url}/unsafe/700x0/filters:format(webp)/big.jpg",
                                 timeout=300)  # fmt: skip
                warm.raise_for_status()
                assert warm.content.startswith(b"RIFF"), warm.content[:100]
                half = len(widths) // 2
                mv_urls = [f"{base}/media/tr:w-{w},f-webp/bench/big.jpg" for w in widths]
                th_urls = [f"{thumbor_url}/unsafe/{w}x0/filters:format(webp)/big.jpg"
                           for w in widths]  # fmt: skip
                # Two halves each, in turns, so that the machine's load hits both alike.
                mv_a = run_cold(mv_urls[:half], 2)
                th_a = run_cold(th_urls[:half], 2)
                th_b = run_cold(th_urls[half:], 2)
                mv_b = run_cold(mv_urls[half:], 2)
            ceiling_rps, ceiling_p50 = run_ceiling(big, widths, 2)

            def combine(a: tuple[float, float, list[float]], b: tuple[float, float, list[float]]
                        ) -> tuple[float, float]:  # fmt: skip
                elapsed = len(a[2]) / a[0] + len(b[2]) / b[0]
                return (len(a[2]) + len(b[2])) / elapsed, statistics.median(a[2] + b[2]) * 1000

            mv_rps, mv_p50 = combine(mv_a, mv_b)
            th_rps, th_p50 = combine(th_a, th_b)

            # Warm 300 px rendition against plain 10 KiB delivery, same server, in turns.
            warm_url = f"{base}/media/tr:w-300/bench/big.jpg"
            plain_url = f"{base}/media/bench/small.bin"
            httpx.get(warm_url, timeout=300).raise_for_status()
            wrk(warm_url, 2, 32)
            wrk(plain_url, 2, 32)
            loads = alternate(
                {"warm": lambda: wrk(warm_url, args.seconds, 32).rps,
                 "plain": lambda: wrk(plain_url, args.seconds, 32).rps},
                3,
            )  # fmt: skip
        finally:
            client.close()
            server.stop()

    ratio_cold = mv_rps / th_rps
    ratio_warm = loads["warm"] / loads["plain"]
    rss_mb = memory.total / 1e6
    rows = [
        ("cold 12 MP JPEG → w-800 WebP, 2 clients: req/s ÷ thumbor (default config)",
         f"{mv_rps:.2f} req/s", f"{th_rps:.2f} req/s", f"{ratio_cold:.2f}", "≥ 1.5",
         "pass" if ratio_cold >= 1.5 else "FAIL"),
        ("cold: p50 (mediavault ÷ thumbor)", f"{mv_p50:.0f} ms", f"{th_p50:.0f} ms",
         f"{mv_p50 / th_p50:.2f}", "report", "report"),
        ("cold: req/s ÷ pyvips alone, 2 threads, no HTTP (ceiling)", f"{mv_rps:.2f} req/s",
         f"{ceiling_rps:.2f} req/s", f"{mv_rps / ceiling_rps:.2f}", "report", "report"),
        ("warm w-300 rendition req/s ÷ plain 10 KiB delivery req/s (wrk -t1 -c32)",
         f"{loads['warm']:,.0f} req/s", f"{loads['plain']:,.0f} req/s", f"{ratio_warm:.2f}",
         "≥ 0.8", "pass" if ratio_warm >= 0.8 else "FAIL"),
        ("peak RSS, whole process tree (RSS summed), 50 MP JPEG → w-800; idle before",
         f"{rss_mb:.1f} MB", f"{idle / 1e6:.1f} MB", "", "≤ 250 MB",
         "pass" if rss_mb <= 250 else "FAIL"),
    ]  # fmt: skip
    lines = [
        f"Machine: {os.cpu_count()} cores; mediavault `serve` with default settings (1 granian "
        f"worker), SQLite and local disk; {thumbor_version()}, one process.",
        "",
        "| figure | mediavault | baseline | ratio | target | result |",
        "|---|---:|---:|---:|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"- cold: {len(widths)} renditions per side (widths {widths[0]}..{widths[-1]}), in two "
        f"halves taken in turns (mediavault, thumbor, thumbor, mediavault); pyvips alone "
        f"(same widths, operation cache off): p50 {ceiling_p50:.0f} ms.",
        f"- warm and plain: median of 3 wrk runs of {args.seconds:.0f} s each, in turns.",
        f"- 50 MP rendition: {huge_s:.2f} s; peak PSS summed {memory.pss / 1e6:.1f} MB, "
        f"largest process {memory.single / 1e6:.1f} MB.",
    ]
    print("\n".join(lines))
    failed = ratio_cold < 1.5 or ratio_warm < 0.8 or rss_mb > 250
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
