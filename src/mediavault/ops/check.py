"""`mediavault check-config`: reach every engine the settings name, and say what was found."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from mediavault.config import Settings
from mediavault.services.readiness import probe_blob_store
from mediavault.storage.database import create_engine
from mediavault.storage.ops_queries import probe_database, schema_revisions
from mediavault.wiring import build_blob_store


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str


def check_configuration(settings: Settings) -> list[Finding]:
    """Every engine, each checked even when another failed. Changes nothing."""
    return [
        _database(settings),
        _blob_store(settings),
        *[_webhook(url) for url in settings.webhook_urls],
    ]


def _database(settings: Settings) -> Finding:
    shown = _without_password(settings.resolved_database_url)
    try:
        engine = create_engine(settings.resolved_database_url)
    except Exception as exc:
        return Finding(False, f"database {shown}: {_reason(exc)}")
    try:
        probe_database(engine)
        current, head = schema_revisions(engine)
    except Exception as exc:
        return Finding(False, f"database {shown} does not answer: {_reason(exc)}")
    finally:
        engine.dispose()
    if current != head:
        state = "empty" if current is None else f"at migration {current}"
        return Finding(
            False,
            f"database {shown} answers but is {state}, not {head}: run `mediavault migrate` "
            "(`serve` migrates at start)",
        )
    return Finding(True, f"database {shown} answers, migrated ({head})")


def _blob_store(settings: Settings) -> Finding:
    url = settings.resolved_blob_url
    try:
        probe_blob_store(build_blob_store(settings))
    except Exception as exc:
        return Finding(False, f"blob store {url} is not writable: {_reason(exc)}")
    return Finding(True, f"blob store {url} is writable")


def _webhook(url: str) -> Finding:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, parts.port or None)}
    except OSError as exc:
        return Finding(False, f"webhook URL {url}: {host} does not resolve ({exc})")
    return Finding(True, f"webhook URL {url}: {host} resolves to {', '.join(sorted(addresses))}")


def _without_password(url: str) -> str:
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
