"""The rules every setting must follow: `Settings.problems()`, used by serve and check-config."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mediavault.config import Settings

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
# granian's bound for the time it waits for a worker to stop (workers_kill_timeout).
MAX_GRACE_SECONDS = 1800
_SECRETS = frozenset({"metrics_token"})
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")

# (field, smallest value allowed): every other number must be positive.
_AT_LEAST = {
    "retention_interval_seconds": 0,
    "rendition_cache_bytes": 0,
    "webhook_retry_hours": 0,
    "trash_days": 0,
}
_NUMBERS = (
    "max_upload_bytes",
    "max_field_bytes",
    "max_fields",
    "max_fields_total_bytes",
    "upload_idle_timeout_seconds",
    "staging_grace_seconds",
    "collect_interval_seconds",
    "retention_interval_seconds",
    "max_versions_per_file",
    "thumbnail_size",
    "transform_max_input_pixels",
    "transform_max_output_side",
    "transform_max_dpr",
    "rendition_cache_bytes",
    "webhook_retry_hours",
    "url_upload_timeout_seconds",
    "idempotency_hours",
    "trash_days",
    "ui_session_hours",
)


def problems_of(settings: Settings) -> list[str]:
    from mediavault.config import env_name

    found: list[str] = []

    def need(ok: bool, field: str, rule: str) -> None:
        if not ok:
            value = "<hidden>" if field in _SECRETS else repr(str(getattr(settings, field)))
            found.append(f"{env_name(field)} must be {rule}, got {value}")

    need(1 <= settings.port <= 65535, "port", "a port number from 1 to 65535")
    need(settings.workers >= 1, "workers", "at least 1")
    need(bool(settings.host), "host", "an address to bind")
    need(settings.log_level.lower() in LOG_LEVELS, "log_level", "one of " + ", ".join(LOG_LEVELS))
    need(settings.log_format.lower() in LOG_FORMATS, "log_format", "text or json")
    need(
        1 <= settings.shutdown_grace_seconds <= MAX_GRACE_SECONDS,
        "shutdown_grace_seconds",
        f"from 1 to {MAX_GRACE_SECONDS} seconds",
    )
    for field in _NUMBERS:
        least = _AT_LEAST.get(field)
        value = getattr(settings, field)
        if least is None:
            need(value > 0, field, "above 0")
        else:
            need(value >= least, field, f"at least {least}")
    database = settings.resolved_database_url
    need(
        database.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")),
        "database_url",
        "sqlite:////path/to/file or postgresql+psycopg://user:password@host/database",
    )
    blob = urlsplit(settings.resolved_blob_url)
    need(
        (blob.scheme == "file" and bool(blob.path)) or (blob.scheme == "s3" and bool(blob.netloc)),
        "blob_url",
        "file:///path or s3://bucket/prefix",
    )
    for url in settings.webhook_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append(f"MEDIAVAULT_WEBHOOK_URL must hold http(s) URLs, got {url!r}")
    if settings.url_endpoint:
        parts = urlsplit(settings.url_endpoint)
        need(
            parts.scheme in ("http", "https") and bool(parts.netloc),
            "url_endpoint",
            "an http(s) URL",
        )
    for origin in settings.allowed_origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc):
            found.append(f"MEDIAVAULT_CORS_ORIGINS must hold scheme://host[:port], got {origin!r}")
    if settings.metrics_token is not None:
        need(
            _TOKEN.fullmatch(settings.metrics_token) is not None,
            "metrics_token",
            "printable ASCII without spaces",
        )
    if settings.named_transformations_file is not None:
        need(
            settings.named_transformations_file.is_file(),
            "named_transformations_file",
            "an existing file",
        )
    return found
