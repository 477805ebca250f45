"""Which storage backends the tests run on, and a fresh, isolated place on them per test.

Unset, everything runs on the embedded default (SQLite and local disk in the data folder).
`.ci/run` runs the whole suite a second time with these set, on real servers:

    MEDIAVAULT_TEST_DATABASE_URL   postgresql+psycopg://user@127.0.0.1:port/postgres  (admin)
    MEDIAVAULT_TEST_BLOB_URL       s3://bucket
    MEDIAVAULT_TEST_S3_ENDPOINT    http://127.0.0.1:port   (plus AWS_ACCESS_KEY_ID/SECRET)
"""

from __future__ import annotations

import os
import secrets

import sqlalchemy as sa


def backend_env() -> dict[str, str]:
    """MEDIAVAULT_* settings for one new server or store: a new database, a new prefix."""
    env: dict[str, str] = {}
    admin_url = os.environ.get("MEDIAVAULT_TEST_DATABASE_URL")
    if admin_url:
        name = f"mv_{secrets.token_hex(6)}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        env["MEDIAVAULT_DATABASE_URL"] = (
            sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        )
    blob_url = os.environ.get("MEDIAVAULT_TEST_BLOB_URL")
    if blob_url:
        env["MEDIAVAULT_BLOB_URL"] = f"{blob_url.rstrip('/')}/{secrets.token_hex(6)}"
        env["MEDIAVAULT_S3_ENDPOINT"] = os.environ.get("MEDIAVAULT_TEST_S3_ENDPOINT", "")
    return env


def describe() -> str:
    database = "postgresql" if os.environ.get("MEDIAVAULT_TEST_DATABASE_URL") else "sqlite"
    blobs = "s3" if os.environ.get("MEDIAVAULT_TEST_BLOB_URL") else "local disk"
    return f"{database} + {blobs}"
