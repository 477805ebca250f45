"""Thread pools of this process: made on first use, and made again in a forked child, which
inherits the parent's pool object but none of its threads."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


class ProcessPool:
    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._made: tuple[int, ThreadPoolExecutor] | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        made = self._made
        if made is None or made[0] != os.getpid():
            with self._lock:
                made = self._made
                if made is None or made[0] != os.getpid():
                    pool = ThreadPoolExecutor(self._size, thread_name_prefix=self._name)
                    made = self._made = (os.getpid(), pool)
        return made[1]
