"""Faults a test can cause in a running server's surroundings: a broken schema, a lost store."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

from mediavault.storage.database import create_engine
from tests.support import Target, settings_of


def execute_sql(target: Target, statement: str) -> None:
    """Run one statement on the target's database and commit it (DDL included)."""
    engine = create_engine(settings_of(target).resolved_database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an endpoint until cut(); from then on the port refuses
    connections and open ones are closed, as when an object store goes away."""

    def __init__(self, endpoint: str, port: int = 0) -> None:
        """`port`: a cut proxy's, to bring the endpoint back where its clients look for it."""
        parts = urlsplit(endpoint)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        # shutdown() first: on Linux a bare close() leaves a blocked accept() accepting.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
