"""Settings: one frozen value built once from the environment; the only reader of os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "MEDIAVAULT_"
# Settings that keep the names every S3 tool already reads.
STANDARD_NAMES = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
}


def env_name(field_name: str) -> str:
    return STANDARD_NAMES.get(field_name, ENV_PREFIX + field_name.upper())


@dataclass(frozen=True)
class Settings:
    """Every knob of the server. Each field is read from `MEDIAVAULT_<FIELD NAME IN CAPS>`
    (the AWS credentials from their standard variables)."""

    data: Path = Path("./mediavault-data")
    # Metadata: None means SQLite in the data folder; or postgresql+psycopg://user:pw@host/db.
    database_url: str | None = None
    # Blobs: None means file://<data>/blobs; or s3://bucket/prefix.
    blob_url: str | None = None
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    # Read from the standard AWS variables, not MEDIAVAULT_*.
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # None: read from <data>/private_key, generated on first start.
    private_key: str | None = None
    # The public key browsers send with their uploads (publicKey; the `kid` of V2 tokens).
    # None: read from <data>/public_key, generated on first start. Not a secret.
    public_key: str | None = None
    # Origins (scheme://host[:port], comma-separated, or *) whose pages may call the two upload
    # routes and delivery from a browser; none by default. The management API never answers
    # a browser's cross-origin request.
    cors_origins: str | None = None
    # Public base of delivery URLs; None means http://HOST:PORT + delivery_prefix.
    url_endpoint: str | None = None
    delivery_prefix: str = "/media"
    # 25 GiB: ImageKit's largest paid-plan file size; larger bodies get the documented 400.
    max_upload_bytes: int = 25 * 1024**3
    # Non-file form fields (tags, customMetadata, ...) are small; this bounds memory per request.
    max_field_bytes: int = 1024 * 1024
    # ...and few: an upload has about 20 documented fields, so 100 parts leave room for any
    # SDK's extras while a body of a million tiny parts is refused at the 101st.
    max_fields: int = 100
    # All non-file fields together, part headers included: without it, 100 fields of 1 MiB
    # each would still hold 100 MiB per request. 2 MiB fits the largest single field and the
    # rest of a real form several times over.
    max_fields_total_bytes: int = 2 * 1024 * 1024
    # A client that sends nothing for this long has its upload cancelled: slow clients cannot
    # hold a worker's staging space and memory forever.
    upload_idle_timeout_seconds: int = 60
    # Cleanup removes staging objects and blob leases this old even when their process may be
    # alive: far longer than any upload may stay idle, or take to publish.
    staging_grace_seconds: int = 3600
    # How often each server process looks for abandoned staging objects, leases, deletions.
    collect_interval_seconds: int = 300
    # How often each server process applies the retention policies (jittered); 0: never (then
    # `mediavault retention apply` is the only way they are applied).
    retention_interval_seconds: int = 3600
    max_versions_per_file: int = 100
    thumbnail_size: int = 200
    # Image transformations (media/transform). Inputs with more pixels than this (all frames
    # of an animation together) are refused from their header, before any decoding; so are
    # outputs with more: ImageKit's limit is 100 megapixels.
    transform_max_input_pixels: int = 100_000_000
    # The longest side any transformation step may produce (WebP's own limit is 16383).
    transform_max_output_side: int = 16383
    # The largest `dpr` accepted (ImageKit's range ends at 5).
    transform_max_dpr: int = 5
    # `f-auto` (the default format) may choose AVIF when the request accepts it: the smallest
    # files, but the slowest to encode (once per rendition: renditions are cached).
    transform_auto_avif: bool = True
    # Rendered images kept under <data>/cache/renditions, least recently used evicted beyond.
    rendition_cache_bytes: int = 1024**3
    # A JSON object {"name": "w-300,h-200", ...}: the operator's named transformations (n-name).
    named_transformations_file: Path | None = None
    log_level: str = "info"
    # Where events are POSTed: one URL or several separated by commas. None: no webhooks.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # How long a failing event is retried, with exponential backoff, before it is given up.
    webhook_retry_hours: int = 24
    # Upload by URL: bytes must start arriving within this many seconds.
    url_upload_timeout_seconds: int = 8
    # Upload by URL from loopback and private addresses; off, so uploads cannot probe inside
    # the network the server sits in.
    url_upload_allow_private: bool = False
    # How long the answer to a request with an Idempotency-Key is kept for its retries.
    idempotency_hours: float = 24
    # Deleted files stay this many days in the trash (GET /v1/trash), bytes and all, then the
    # collector purges them; 0 deletes at once. Fractions of a day are accepted.
    trash_days: float = 30
    # How long a sign-in to the web console (/ui/) lasts before the private key is asked again.
    ui_session_hours: float = 12
    # Folder bulk jobs (POST /v1/bulkJobs/*) take this many files per transaction.
    bulk_job_batch_size: int = 100
    # Cache purges are also POSTed here (JSON {"url": ...}), with retries: a CDN's purge hook.
    purge_webhook_url: str | None = None
    # How often each server process adds the bytes it delivered to the per-day counters.
    bandwidth_flush_seconds: float = 5
    # GET /metrics asks for `Authorization: Bearer <token>` when set; open to all when None.
    metrics_token: str | None = None
    # "text": the server's plain lines, no line per request; "json": one JSON object per line,
    # one for every request (see README, Operating mediavault).
    log_format: str = "text"
    # On SIGTERM, requests in flight get this long to finish before their worker is killed.
    shutdown_grace_seconds: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `env` (default: the process environment), then apply overrides.

        Overrides whose value is None are ignored, so CLI options that were not given fall back
        to the environment and then to the defaults.
        """
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = source.get(env_name(field.name))
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        return replace(settings, data=settings.data.expanduser().resolve())

    def to_env(self) -> dict[str, str]:
        """The environment that rebuilds these settings in a worker process."""
        env = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                env[env_name(field.name)] = str(value)
        return env

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence each; empty when all is well."""
        from mediavault.config_checks import problems_of

        return problems_of(self)

    @property
    def public_url_endpoint(self) -> str:
        if self.url_endpoint:
            return self.url_endpoint.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.normalized_delivery_prefix}"

    @property
    def webhook_urls(self) -> list[str]:
        return [u.strip() for u in (self.webhook_url or "").split(",") if u.strip()]

    @property
    def normalized_delivery_prefix(self) -> str:
        return "/" + self.delivery_prefix.strip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'mediavault.sqlite3'}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or (self.data / "blobs").as_uri()

    @property
    def idempotency_lifetime_ms(self) -> int:
        return int(self.idempotency_hours * 3_600_000)

    @property
    def cache_root(self) -> Path:
        return self.data / "cache"

    @property
    def private_key_path(self) -> Path:
        return self.data / "private_key"

    @property
    def public_key_path(self) -> Path:
        return self.data / "public_key"

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(
            origin.strip().rstrip("/")
            for origin in (self.cors_origins or "").split(",")
            if origin.strip()
        )


def _parse(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    if "bool" in kind:
        lowered = raw.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")
        return lowered in ("1", "true", "yes", "on")
    try:
        if "float" in kind:
            return float(raw)
        if "int" in kind:
            return int(raw)
        if "Path" in kind:
            return Path(raw)
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be an integer, got {raw!r}") from None
    return raw
