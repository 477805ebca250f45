"""Start writing a file's bytes to disk while more are still coming (Linux sync_file_range).

An upload is acknowledged only after fsync. Left alone, the kernel keeps a large upload's bytes
in the page cache and the final fsync then waits for all of them; asking for writeback of each
range as soon as it is written lets the disk work while the request is still being received,
so the final fsync finds little left. Elsewhere this is a no-op and fsync does it all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_SYNC_FILE_RANGE_WRITE = 2  # start writeback of dirty pages in the range; do not wait


def _load() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to begin writing [offset, offset + length) out; never blocks on the disk."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # type: ignore[operator]
