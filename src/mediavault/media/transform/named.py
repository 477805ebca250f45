"""Named transformations (`n-<name>`): the built-in thumbnails and the operator's own.

Built in: `ik_ml_thumbnail` (the `thumbnail` URL of every File object) and its older name
`media_library_thumbnail`: the image scaled to fit MEDIAVAULT_THUMBNAIL_SIZE on its longest side,
never enlarged, as JPEG (PNG when it has transparency) at quality 80, whatever the Accept header
says, and a placeholder picture for files that are not images. This is what
the former thumbnail cache produced before the engine existed.

The operator's: MEDIAVAULT_NAMED_TRANSFORMATIONS_FILE names a JSON object of names to
transformation strings, `{"banner": "w-1200,h-400,fo-auto", "square": "w-300,h-300:r-max"}`.
Names are letters, digits, `_` and `-`; a definition may not use `n-` itself; built-in names
cannot be redefined. The file is read once, at start, and any mistake in it stops the start
with a message naming the entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from mediavault.errors import BadTransformation
from mediavault.media.transform.params import FLAT, Chain, parse_transformation

THUMBNAIL = "ik_ml_thumbnail"
THUMBNAIL_NAMES = (THUMBNAIL, "media_library_thumbnail")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def thumbnail_chain(size: int) -> Chain:
    chain = parse_transformation(f"w-{size},h-{size},c-at_max")
    return replace(chain, output=replace(chain.output, format=FLAT), placeholder=True)


class NamedTransformations(Mapping[str, Chain]):
    """Name -> parsed chain, for `parse_transformation(..., named=...)`."""

    def __init__(self, thumbnail_size: int, definitions: Mapping[str, str] | None = None) -> None:
        thumbnail = thumbnail_chain(thumbnail_size)
        self._chains: dict[str, Chain] = dict.fromkeys(THUMBNAIL_NAMES, thumbnail)
        for name, text in (definitions or {}).items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ValueError(f"named transformation {name!r}: names are [A-Za-z0-9_-]+")
            if name in THUMBNAIL_NAMES:
                raise ValueError(f"named transformation {name!r}: a built-in name")
            if not isinstance(text, str):
                raise ValueError(f"named transformation {name!r}: the value must be a string")
            try:
                # No `named` mapping: a definition that uses n- fails as an unknown name.
                self._chains[name] = parse_transformation(text)
            except BadTransformation as exc:
                raise ValueError(f"named transformation {name!r}: {exc.detail}") from None

    @classmethod
    def load(cls, thumbnail_size: int, path: Path | None) -> NamedTransformations:
        """The built-ins plus the definitions in `path` (a JSON object), if any."""
        if path is None:
            return cls(thumbnail_size)
        try:
            definitions = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"named transformations file {path}: {exc}") from None
        if not isinstance(definitions, dict):
            raise ValueError(f"named transformations file {path}: not a JSON object")
        return cls(thumbnail_size, definitions)

    def __getitem__(self, name: str) -> Chain:
        return self._chains[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._chains)

    def __len__(self) -> int:
        return len(self._chains)
