"""What a worker does not import until a request needs it (issue 11: the server's memory).

Every worker builds the app with `create_app`; a module it imports there stays in its memory for
the worker's life. These are imported on first use instead: Jinja2 (the console's first page),
PyJWT (the first V2 upload token), prometheus_client (the first metric counted or scraped), and
pydantic never (Litestar's pydantic plugins are left out), lark (the first search). The check
runs in a fresh interpreter, since this test process has imported them all already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from litestar import Litestar
from litestar.plugins.pydantic import (
    PydanticDIPlugin,
    PydanticInitPlugin,
    PydanticPlugin,
    PydanticSchemaPlugin,
)

from mediavault.api.app import App
from mediavault.config import Settings
from mediavault.wiring import prepare_data_folder

LAZY = ("jinja2", "jwt", "prometheus_client", "pydantic", "lark")

CHILD = """
import json, sys
from pathlib import Path
from mediavault.api.app import create_app
from mediavault.config import Settings

create_app(Settings.from_env({}, data=Path(sys.argv[1]), private_key="private_k"))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


def imported_by_create_app(data: Path, *modules: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), *modules],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_creating_the_app_imports_none_of_the_lazy_modules(tmp_path: Path) -> None:
    prepare_data_folder(Settings.from_env({}, data=tmp_path, private_key="private_k"))
    assert imported_by_create_app(tmp_path, *LAZY) == []
    # The check itself works: these are imported there.
    assert "litestar" in imported_by_create_app(tmp_path, "litestar")


def test_the_app_has_litestar_default_plugins_except_pydantics() -> None:
    pydantic = (PydanticPlugin, PydanticInitPlugin, PydanticSchemaPlugin, PydanticDIPlugin)
    litestar_defaults = Litestar._get_default_plugins([])
    expected = [type(p) for p in litestar_defaults if not isinstance(p, pydantic)]
    assert [type(p) for p in App._get_default_plugins([])] == expected
