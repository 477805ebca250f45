"""Profile a hot path of a real server with py-spy and print where its time goes.

    .venv/bin/python bench/profile.py details|list|upload|deliver|deliver-version|304 [--seconds 8]

Starts `mediavault serve` with one worker on a fresh data folder, loads the route (wrk for the
reads, a 256 MiB upload with curl for the upload; the deliveries are of a 10 KiB version, by
its plain URL, by its ik-obj-version URL and with If-None-Match), records the worker with
py-spy, and prints
the functions with the most samples, own and inclusive. This is how the changes listed in
BENCHMARKS.md were found.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import TEST_KEY, ServerProcess, free_port

PY_SPY = Path(sys.executable).with_name("py-spy")
DELIVERIES = ("deliver", "deliver-version", "304")


def load(server: ServerProcess, route: str, seconds: float, root: Path) -> list[str]:
    """Set the route up; return the command that loads it."""
    client = httpx.Client(base_url=server.base_url, auth=(TEST_KEY, ""))
    form = {"fileName": "p.bin", "useUniqueFileName": "false"}
    count = {"list": 100, "deliver-version": 2}.get(route, 1)
    for n in range(count):
        content = os.urandom(10 * 1024) if route in DELIVERIES else f"v{n}".encode()
        body = client.post("/api/v1/files/upload", files={"file": ("p", content)}, data=form).json()
    file_id, version_id = body["fileId"], body["versionInfo"]["id"]
    wrk = ["wrk", "-t1", "-c16", f"-d{round(seconds)}s"]
    if route in DELIVERIES:
        listed = client.get(f"/v1/files/{file_id}/versions").json()
        url = str(listed[-1]["url"])  # the older version's ik-obj-version URL, or the current's
        if route != "deliver-version":
            url = url.split("?")[0]
        if route == "304":
            wrk += ["-H", f"If-None-Match: {httpx.get(url).headers['etag']}"]
        return [*wrk, url]
    if route == "upload":
        source = root / "upload.bin"
        source.write_bytes(os.urandom(256 * 1024 * 1024))
        return ["curl", "-s", "-o", "/dev/null", "-u", f"{TEST_KEY}:", "-F", "fileName=u.bin",
                "-F", f"file=@{source}", f"{server.base_url}/api/v1/files/upload"]  # fmt: skip
    path = f"/v1/files/{file_id}/versions" + ("" if route == "list" else f"/{version_id}")
    auth = "Authorization: Basic " + base64.b64encode(f"{TEST_KEY}:".encode()).decode()
    return [*wrk, "-H", auth, server.base_url + path]


def summarize(raw: Path, rows: int = 25) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # a frame name holding a line break (SQL text) split the line
        samples = int(count)
        total += samples
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    print(f"{total} samples\n\nown time:")
    for frame, samples in own.most_common(rows):
        print(f"{samples / total:6.1%}  {frame}")
    print("\ninclusive time:")
    for frame, samples in inclusive.most_common(rows):
        print(f"{samples / total:6.1%}  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("route", choices=["details", "list", "upload", *DELIVERIES])
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mv-profile-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        server = ServerProcess(data=root / "data", port=free_port(), workers=1).start()
        try:
            command = load(server, args.route, args.seconds, root)
            raw = root / "profile.txt"
            assert server.process is not None
            recorder = subprocess.Popen(
                [str(PY_SPY), "record", "--pid", str(server.process.pid), "--subprocesses",
                 "--duration", str(round(args.seconds)), "--rate", "200", "--format", "raw",
                 "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            print(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            recorder.wait()
        finally:
            server.stop()
        summarize(raw)


if __name__ == "__main__":
    main()
