"""Running a write use case again when it lost a race with a concurrent one.

With many workers on PostgreSQL, two requests can both find a path free and both insert; the
database keeps one and refuses the other. The loser's transaction rolled back whole, so running
the use case again is safe, and it then sees the winner's row.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from mediavault.errors import WriteConflict

ATTEMPTS = 6
P = ParamSpec("P")
R = TypeVar("R")


def retry_on_conflict(use_case: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(ATTEMPTS):
            try:
                return use_case(*args, **kwargs)
            except WriteConflict:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return run
