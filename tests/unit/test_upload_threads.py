"""The upload path's thread hop (api/multipart.py in_thread): a cancelled caller waits for the
call it started, so that its cleanup never runs beside it."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from mediavault.api.multipart import in_thread


def test_a_cancelled_caller_goes_on_only_once_the_call_has_ended() -> None:
    started, ended = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        time.sleep(0.3)
        ended.set()
        return "done"

    async def main() -> None:
        task = asyncio.create_task(in_thread(slow))
        while not started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set(), "the caller went on while the call was still running"

    asyncio.run(main())


def test_the_result_and_the_error_come_back() -> None:
    def fails() -> None:
        raise ValueError("from the thread")

    async def main() -> None:
        assert await in_thread(lambda: threading.current_thread().name) != "MainThread"
        with pytest.raises(ValueError, match="from the thread"):
            await in_thread(fails)

    asyncio.run(main())
