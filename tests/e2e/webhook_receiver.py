"""A webhook receiver for tests: verifies every delivery with the official SDK's unwrap().

Without a secret it takes any JSON body (the purge hook's deliveries are not signed); with
`fail_first`, it answers that many deliveries with a 503 before it accepts any."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from imagekitio import ImageKit


class Receiver:
    def __init__(self, secret: str | None, port: int, fail_first: int = 0) -> None:
        self.secret = secret
        self.port = port
        self.fail_first = fail_first
        self.refused: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures: list[str] = []
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self
        verifier = ImageKit(private_key="unused", webhook_secret=self.secret or "unused")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    if receiver.secret is not None:
                        verifier.webhooks.unwrap(body, headers=headers)
                except Exception as exc:
                    receiver.failures.append(repr(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    if len(receiver.refused) < receiver.fail_first:
                        receiver.refused.append(json.loads(body))
                        self.send_response(503)
                        self.end_headers()
                        return
                    receiver.events.append(json.loads(body))
                    receiver.headers.append(headers)
                    receiver._lock.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def wait_for(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.events) >= count, timeout=timeout)
            return list(self.events)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
