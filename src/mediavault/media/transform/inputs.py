"""What a render reads (a blob's local path or a function opening it) and the limits it keeps.

Apart from `pipeline` so that a process that never renders never loads libvips: a worker
serving plain delivery stays about 20 MB smaller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

Opener = Callable[[], BinaryIO]
Source = Path | Opener


@dataclass(frozen=True)
class Limits:
    max_input_pixels: int = 100_000_000
    max_output_side: int = 16383
