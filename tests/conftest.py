"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    def make(
        width: int = 40, height: int = 30, fmt: str = "JPEG", color: object = (200, 30, 30)
    ) -> bytes:
        mode = "RGBA" if fmt == "PNG" and isinstance(color, tuple) and len(color) == 4 else "RGB"
        buffer = io.BytesIO()
        Image.new(mode, (width, height), color).save(buffer, fmt)  # type: ignore[arg-type]
        return buffer.getvalue()

    return make
