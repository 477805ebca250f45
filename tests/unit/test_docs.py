"""The README must stay true: every setting documented, the two commands on top."""

from __future__ import annotations

from dataclasses import fields

from mediavault.config import Settings, env_name
from tests.support import REPO


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    for field in fields(Settings):
        assert f"`{env_name(field.name)}`" in readme, field.name


def test_readme_opens_with_the_install_and_test_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert "mediavault serve" in block[0]
    assert block[1].startswith("./scripts/test")


def test_settings_come_from_the_environment() -> None:
    env = {"MEDIAVAULT_PORT": "9001", "MEDIAVAULT_DATA": "/srv/mv", "MEDIAVAULT_HOST": "0.0.0.0"}
    settings = Settings.from_env(env, workers=3)
    assert (settings.port, settings.workers, str(settings.data)) == (9001, 3, "/srv/mv")
    assert settings.public_url_endpoint == "http://127.0.0.1:9001/media"
    assert Settings.from_env(settings.to_env()) == settings
