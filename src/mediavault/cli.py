"""The `mediavault` command."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from mediavault import __version__
from mediavault.config import Settings
from mediavault.errors import MediaVaultError

if TYPE_CHECKING:
    from mediavault.services.stores import Stores


def backend_options(command: Callable[..., None]) -> Callable[..., None]:
    """--data, --database-url and --blob-url, for the commands that work on a library."""
    command = click.option("--blob-url", default=None, help="[env: MEDIAVAULT_BLOB_URL]")(command)
    command = click.option("--database-url", default=None, help="[env: MEDIAVAULT_DATABASE_URL]")(
        command
    )
    return click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None)(
        command
    )


@contextmanager
def open_library(
    data: Path | None, database_url: str | None, blob_url: str | None, prepare: bool = True
) -> Iterator[Stores]:
    """The library's stores, migrated unless `prepare` is off; domain errors become clean CLI
    errors."""
    from mediavault.wiring import build_stores, prepare_data_folder

    settings = Settings.from_env(data=data, database_url=database_url, blob_url=blob_url)
    if prepare:
        prepare_data_folder(settings)
    stores = build_stores(settings)
    try:
        yield stores
    except MediaVaultError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        stores.close()


# Clients of a server's API, loaded only when one of them runs: `serve`'s long-lived main
# process must not carry httpx and the domain models it never uses.
CLIENT_COMMANDS = ("upload", "ls", "versions", "restore", "rm-version", "download")


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *CLIENT_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in CLIENT_COMMANDS:
            from mediavault.client.commands import COMMANDS

            return next(command for command in COMMANDS if command.name == cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="mediavault")
def main() -> None:
    """mediavault: a self-hosted media library with file versioning (ImageKit API)."""


@main.command()
@click.option("--host", default=None, help="Address to bind.  [env: MEDIAVAULT_HOST; 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port.  [env: MEDIAVAULT_PORT; 8000]")
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder.  [env: MEDIAVAULT_DATA; ./mediavault-data]",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes.  [env: MEDIAVAULT_WORKERS; 1]",
)
@click.option(
    "--database-url",
    default=None,
    help="Metadata database.  [env: MEDIAVAULT_DATABASE_URL; SQLite in the data folder]",
)
@click.option(
    "--blob-url",
    default=None,
    help="Blob store, file:///path or s3://bucket/prefix.  [env: MEDIAVAULT_BLOB_URL]",
)
def serve(
    host: str | None,
    port: int | None,
    data: Path | None,
    workers: int | None,
    database_url: str | None,
    blob_url: str | None,
) -> None:
    """Apply migrations and serve the API and delivery URLs."""
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from mediavault.ops.logs import granian_config

    settings = _valid_settings(
        host=host,
        port=port,
        data=data,
        workers=workers,
        database_url=database_url,
        blob_url=blob_url,
    )
    private_key, key_was_generated, public_key, public_was_generated = _prepare_in_child(settings)
    if key_was_generated:
        click.echo(
            f"Generated a private API key (stored in {settings.private_key_path}; "
            f"shown only this once):\n\n    {private_key}\n"
        )
    if public_was_generated:
        click.echo(
            f"Generated a public key for uploads from browsers (stored in "
            f"{settings.public_key_path}):\n\n    {public_key}\n"
        )
    click.echo(
        f"mediavault {__version__}: API on http://{settings.host}:{settings.port}, "
        f"files delivered at {settings.public_url_endpoint}/, data in {settings.data}"
    )
    # Workers are separate processes: they rebuild the same settings from the environment.
    os.environ.update(settings.to_env())
    # Each worker counts its metrics in files there; emptied now, as the counts start again.
    from mediavault.ops.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(settings.cache_root / "metrics")
    # Spawned, not forked: a fork would inherit this process's object-store runtime threads
    # and database connections, which do not survive it.
    multiprocessing.set_start_method("spawn", force=True)
    Server(
        "mediavault.api.asgi:app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        # uvloop, named rather than left to granian's "auto", which prefers its experimental
        # rloop when that happens to be installed.
        loop=Loops.uvloop,
        workers=settings.workers,
        factory=True,
        log_level=settings.log_level,  # type: ignore[arg-type]  # granian parses the name
        log_dictconfig=granian_config(settings.log_format),
        # Requests are logged by the app (MEDIAVAULT_LOG_FORMAT=json), with their route.
        log_access=False,
        respawn_failed_workers=True,
        # SIGTERM/SIGINT: each worker stops accepting, lets the requests in flight finish and
        # runs its shutdown; one still busy after the grace period is killed.
        workers_kill_timeout=settings.shutdown_grace_seconds,
    ).serve()


def _valid_settings(**options: Any) -> Settings:
    """Settings from the environment and the options, or exit 2 naming every invalid one."""
    try:
        settings = Settings.from_env(**options)
    except ValueError as exc:
        _refuse([str(exc)])
    problems = settings.problems()
    if problems:
        _refuse(problems)
    return settings


def _refuse(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(f"invalid setting: {problem}", err=True)
    raise SystemExit(2)


def _prepare_in_child(settings: Settings) -> tuple[str, bool, str, bool]:
    """prepare_data_folder in a short-lived process; returns each key and whether it is new.

    `serve`'s own process lives as long as the server and only supervises the workers: what
    preparing loads (Alembic, SQLAlchemy, the blob stores, the migrations' objects) would stay
    in its memory for good, and leaves with the child instead. The child is spawned, like the
    workers. An error in it is raised here, its traceback included.
    """
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(_prepare, settings).result()


def _prepare(settings: Settings) -> tuple[str, bool, str, bool]:
    """In the child: a plain tuple back, so that the parent never imports mediavault.wiring."""
    from mediavault.wiring import prepare_data_folder

    prepared = prepare_data_folder(settings)
    return (
        prepared.private_key,
        prepared.key_was_generated,
        prepared.public_key,
        prepared.public_key_was_generated,
    )


@main.command("check-config")
@backend_options
def check_config(data: Path | None, database_url: str | None, blob_url: str | None) -> None:
    """Check every setting and reach every configured engine; exit 0 only when all is well.

    The database must answer and be migrated, the blob store take a write, and each webhook
    URL's host resolve. Changes nothing (the probe write to the blob store is removed).
    """
    from mediavault.ops.check import check_configuration

    settings = _valid_settings(data=data, database_url=database_url, blob_url=blob_url)
    findings = check_configuration(settings)
    for finding in findings:
        click.echo(f"{'ok' if finding.ok else 'FAILED'}: {finding.what}")
    if not all(finding.ok for finding in findings):
        raise SystemExit(1)
    click.echo("The configuration is valid.")


@main.command()
@backend_options
def migrate(data: Path | None, database_url: str | None, blob_url: str | None) -> None:
    """Apply database migrations, finish interrupted deletions, and exit.

    Run it once before starting the workers of a multi-host deployment.
    """
    from mediavault.wiring import prepare_data_folder

    settings = Settings.from_env(data=data, database_url=database_url, blob_url=blob_url)
    prepare_data_folder(settings)
    click.echo("The database is up to date.")


@main.command("export")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@backend_options
def export_command(
    target: Path, data: Path | None, database_url: str | None, blob_url: str | None
) -> None:
    """Write the whole library (every version, id and timestamp, and the bytes) to TARGET."""
    from mediavault.services.transfer import export_library

    target.mkdir(parents=True, exist_ok=True)
    with open_library(data, database_url, blob_url) as stores:
        summary = export_library(stores, target)
    click.echo(f"Exported {summary.rows} and {summary.blobs} blobs to {target}.")


@main.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@backend_options
def import_command(
    source: Path, data: Path | None, database_url: str | None, blob_url: str | None
) -> None:
    """Load an export into an empty library (any backends)."""
    from mediavault.services.transfer import import_library

    with open_library(data, database_url, blob_url) as stores:
        summary = import_library(stores, source)
    click.echo(f"Imported {summary.rows} and {summary.blobs} blobs from {source}.")


@main.command("import-imagekit")
@click.option("--source-api", required=True, help="The source's API, e.g. https://api.imagekit.io")
@click.option("--source-key", required=True, help="The source's private API key.")
@click.option(
    "--source-url-endpoint", required=True, help="The source's URL endpoint (delivery URLs)."
)
@click.option("--path", default="/", show_default=True, help="Import only this folder.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@backend_options
def import_imagekit(
    source_api: str,
    source_key: str,
    source_url_endpoint: str,
    path: str,
    concurrency: int,
    data: Path | None,
    database_url: str | None,
    blob_url: str | None,
) -> None:
    """Copy a whole library from ImageKit (or any server speaking its API) with every version.

    Ids, version names, times and metadata are kept; a second run imports only what is
    missing. Exit code 0 only when everything was imported (see the README).
    """
    from mediavault.client.api import ApiClient, ApiError
    from mediavault.client.progress import import_bars
    from mediavault.services.imagekit_import import import_from_imagekit

    source = ApiClient(source_api, source_key, source_url_endpoint)
    try:
        with open_library(data, database_url, blob_url) as stores, import_bars() as bars:
            report = import_from_imagekit(stores, source, path, concurrency, bars)
    except ApiError as exc:
        click.echo(f"The source refused or could not be reached: {exc}", err=True)
        raise SystemExit(3) from None
    finally:
        source.close()
    for line in report.skipped:
        click.echo(f"skipped {line}")
    if report.nothing_to_do:
        click.echo("Nothing to do: the target already holds everything.")
    click.echo(
        f"{report.files_imported} files imported ({report.versions_imported} versions, "
        f"{report.bytes_imported} bytes), {report.files_unchanged} files already there "
        f"({report.versions_present} versions), {report.folders_created} folders and "
        f"{report.fields_created} custom metadata fields created, {len(report.skipped)} skipped."
    )
    if not report.complete:
        raise SystemExit(1)


@main.command()
@backend_options
@click.option("--repair", is_flag=True, help="Remove what is provably garbage.")
@click.option("--no-hash", is_flag=True, help="Check sizes only, without reading every blob.")
def fsck(
    data: Path | None,
    database_url: str | None,
    blob_url: str | None,
    repair: bool,
    no_hash: bool,
) -> None:
    """Check every invariant of the library; exit 0 only when it is clean.

    Work that live processes (servers, imports) have in flight is reported as a note.
    --repair removes unreferenced blobs and staging objects and finishes interrupted
    deletions; it never touches data a version references, and refuses (exit code 2) while
    any other process works on the library, since unreferenced bytes may then be an upload in
    progress.
    """
    from mediavault.services.fsck import fsck as check

    # Not prepared: preparing finishes interrupted work, which would hide it from the check.
    with open_library(data, database_url, blob_url, prepare=False) as stores:
        others = stores.liveness.others_alive()
        if repair and others:
            click.echo(
                f"fsck --repair refused: {len(others)} other mediavault processes (servers or "
                "imports) are working on this library, and what looks unreferenced may be "
                "their uploads in flight. Stop them and run it again; plain `mediavault fsck` "
                "checks without changing anything.",
                err=True,
            )
            raise SystemExit(2)
        report = check(stores, repair=repair, verify_hashes=not no_hash)
    for line in report.repaired:
        click.echo(f"repaired: {line}")
    for line in report.notes:
        click.echo(f"note: {line}")
    for line in report.problems:
        click.echo(f"problem: {line}")
    if not report.clean:
        raise SystemExit(1)
    click.echo("clean")


@main.group()
def retention() -> None:
    """Retention policies (declared with POST /v1/retentionPolicies)."""


@retention.command("apply")
@backend_options
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; change nothing.")
def retention_apply(
    data: Path | None, database_url: str | None, blob_url: str | None, dry_run: bool
) -> None:
    """Apply every retention policy now, file by file, and print each version deleted.

    With --dry-run, print what would be deleted and the bytes that would be freed. The
    progress bar goes to standard error, the versions to standard output.
    """
    from mediavault.services import retention as policies

    with open_library(data, database_url, blob_url) as stores:
        file_ids = policies.governed_file_ids(stores)
        removals: list[policies.Removal] = []
        label = "Checking files" if dry_run else "Applying retention"
        with click.progressbar(file_ids, label=label, file=sys.stderr) as files:
            for file_id in files:
                if dry_run:
                    removals += policies.planned(stores, [file_id])
                else:
                    removals += policies.apply_to_file(stores, file_id)
        verb = "would delete" if dry_run else "deleted"
        for removal in removals:
            version = removal.version
            click.echo(
                f"{verb} {version.file_id} {version.id} {version.name} "
                f"(policy {removal.policy_id}: {removal.reason})"
            )
        summary = f"{len(removals)} versions of {len(file_ids)} files"
        if dry_run:
            freed = policies.bytes_freed(stores, removals)
            click.echo(f"Would delete {summary}, freeing {freed} bytes.")
        else:
            click.echo(f"Deleted {summary}.")
