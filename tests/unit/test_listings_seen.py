"""Which listings a worker counts as asked before (api/routes/assets.py): that decides only how
the page is read (ids and revisions first, reusing kept File objects), never the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from mediavault.api.app import create_app
from mediavault.config import Settings
from mediavault.services import assets
from mediavault.wiring import prepare_data_folder

KEY = "private_k"


def test_a_listing_counts_as_seen_by_its_parameters_in_any_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = assets.list_assets_reusing
    reused: list[bool] = []

    def spy(stores: Any, query: Any, reuse: Any) -> Any:
        reused.append(reuse is not None)
        return reading(stores, query, reuse)

    monkeypatch.setattr(assets, "list_assets_reusing", spy)
    settings = Settings.from_env({}, data=tmp_path, private_key=KEY)
    prepare_data_folder(settings)
    app = create_app(settings)
    while not isinstance(app, Litestar):
        app = app.app  # type: ignore[attr-defined]
    relative = {"searchQuery": 'createdAt > "7d"', "sort": "DESC_CREATED"}
    asked = [
        relative,
        relative,  # a relative date is read anew each time, and still the same listing
        dict(reversed(relative.items())),
        {**relative, "limit": "5"},
        {"path": "/a/"},
        {"path": "/b/"},
        {"path": "/a/"},
    ]
    with TestClient(app=app) as client:
        for params in asked:
            answer = client.get("/v1/files", params=params, auth=(KEY, ""))
            assert answer.status_code == 200, answer.text
            assert answer.json() == []
    assert reused == [False, True, True, False, False, False, True]
