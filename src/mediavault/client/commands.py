"""Commands for people and scripts that talk to any mediavault (or ImageKit) over its API.

Exit codes: 0 done; 1 a usage error (a wrong option, a folder without --recursive, a version
that is not an id, "Version N" or N); 2 not found (file, path or version); 3 anything else:
the server refused (a wrong key is a 401), failed or could not be reached.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from mediavault.client.api import ApiClient, ApiError, JsonObject

USAGE, NOT_FOUND, FAILED = 1, 2, 3


class ClientError(click.ClickException):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code

    @property
    def exit_code(self) -> int:  # type: ignore[override]  # click's is a class attribute; ours varies
        return self.code


class ClientCommand(click.Command):
    """Usage errors exit with 1 (click's own convention, 2, is "not found" here)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _UsageError(exc.message, exc.ctx) from None


class _UsageError(click.UsageError):
    exit_code = USAGE


def connection_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option(
                "--url",
                envvar="MEDIAVAULT_URL",
                default="http://127.0.0.1:8000",
                show_default=True,
                help="The server's API.  [env: MEDIAVAULT_URL]",
            ),
            click.option(
                "--key",
                envvar="MEDIAVAULT_PRIVATE_KEY",
                required=True,
                help="The private API key.  [env: MEDIAVAULT_PRIVATE_KEY]",
            ),
            click.option(
                "--url-endpoint",
                envvar="MEDIAVAULT_URL_ENDPOINT",
                default=None,
                help="Delivery URLs' endpoint.  [env: MEDIAVAULT_URL_ENDPOINT; <url>/media]",
            ),
            click.option("--json", "as_json", is_flag=True, help="JSON on standard output."),
        ]
    ):
        command = option(command)
    return command


@contextmanager
def _client(url: str, key: str, url_endpoint: str | None) -> Iterator[ApiClient]:
    client = ApiClient(url, key, url_endpoint)
    try:
        yield client
    except ApiError as exc:
        raise ClientError(exc.message, NOT_FOUND if exc.not_found else FAILED) from None
    finally:
        client.close()


def _emit(as_json: bool, value: Any, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        human()


# -- finding files and versions -------------------------------------------------------------


def find_file(client: ApiClient, file_id_or_path: str) -> JsonObject:
    """The current version of a file named by its id or its path (starting with /)."""
    if not file_id_or_path.startswith("/"):
        return client.details(file_id_or_path)
    folder, _, name = file_id_or_path.rpartition("/")
    for item in client.list_all("file", folder or "/"):
        if item["name"] == name:
            return item
    raise ClientError(f"No file at {file_id_or_path}.", NOT_FOUND)


def find_version(client: ApiClient, file: JsonObject, version: str) -> JsonObject:
    """A version by its id, "Version N" or N."""
    wanted = version.strip()
    if wanted.isdigit():
        wanted = f"Version {int(wanted)}"
    for item in client.versions(file["fileId"]):
        if wanted in (item["versionInfo"]["id"], item["versionInfo"]["name"]):
            return item
    raise ClientError(f"{file['filePath']} has no version {version!r}.", NOT_FOUND)


# -- the commands ---------------------------------------------------------------------------


@click.command(cls=ClientCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--folder", default="/", show_default=True, help="Where to upload.")
@click.option("--recursive", "-r", is_flag=True, help="Upload folders with what they hold.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@connection_options
def upload(
    paths: tuple[Path, ...],
    folder: str,
    recursive: bool,
    concurrency: int,
    no_progress: bool,
    url: str,
    key: str,
    url_endpoint: str | None,
    as_json: bool,
) -> None:
    """Upload files (a folder with --recursive, as FOLDER/<its name>/...). A path that holds
    a file already gets a new version of it."""
    from mediavault.client.progress import upload_bars

    plan = list(_upload_plan(paths, folder.rstrip("/") or "/", recursive))
    total = sum(local.stat().st_size for local, _ in plan)
    with _client(url, key, url_endpoint) as client, upload_bars(total, not no_progress) as bars:

        def send(job: tuple[Path, str]) -> JsonObject:
            local, target = job
            task = bars.file(local.name, local.stat().st_size)
            with open(local, "rb", buffering=0) as raw:
                reader = _Counting(raw, lambda n: bars.advance(task, n))
                return client.upload(reader, local.name, target)

        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(send, plan))

    def human() -> None:
        for r in results:
            click.echo(f"{r['filePath']}  {r['versionInfo']['name']}  {r['fileId']}")

    _emit(as_json, results, human)


def _upload_plan(
    paths: tuple[Path, ...], folder: str, recursive: bool
) -> Iterator[tuple[Path, str]]:
    for path in paths:
        if path.is_file():
            yield path, folder
        elif not recursive:
            raise ClientError(f"{path} is a folder: upload it with --recursive.", USAGE)
        else:
            base = path.resolve()
            for directory, _, names in sorted(os.walk(base)):
                relative = Path(directory).relative_to(base.parent).as_posix()
                for name in sorted(names):
                    yield Path(directory) / name, f"{folder.rstrip('/')}/{relative}"


class _Counting(io.BufferedReader):
    """A file that reports what is read from it (the upload's progress)."""

    def __init__(self, raw: Any, seen: Callable[[int], None]) -> None:
        super().__init__(raw)
        self._seen = seen

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._seen(len(data))
        return data


@click.command(cls=ClientCommand)
@click.argument("folder", default="/")
@connection_options
def ls(folder: str, url: str, key: str, url_endpoint: str | None, as_json: bool) -> None:
    """List a folder: its folders, then its files with their current version."""
    with _client(url, key, url_endpoint) as client:
        folders = list(client.list_all("folder", folder))
        files = list(client.list_all("file", folder))

    def human() -> None:
        for item in folders:
            click.echo(f"{item['name']}/")
        for item in files:
            click.echo(
                f"{item['name']}  {item['size']}  {item['versionInfo']['name']}  {item['fileId']}"
            )

    _emit(as_json, folders + files, human)


@click.command(cls=ClientCommand)
@click.argument("file")
@connection_options
def versions(file: str, url: str, key: str, url_endpoint: str | None, as_json: bool) -> None:
    """Every version of FILE (a fileId or a path), current first."""
    with _client(url, key, url_endpoint) as client:
        listed = client.versions(find_file(client, file)["fileId"])

    def human() -> None:
        for item in listed:
            mark = "*" if item["type"] == "file" else " "
            click.echo(
                f"{mark} {item['versionInfo']['name']}  {item['versionInfo']['id']}  "
                f"{item['size']}  {item['createdAt']}"
            )

    _emit(as_json, listed, human)


@click.command(cls=ClientCommand)
@click.argument("file")
@click.argument("version")
@connection_options
def restore(
    file: str, version: str, url: str, key: str, url_endpoint: str | None, as_json: bool
) -> None:
    """Make VERSION (an id, "Version N" or N) of FILE the current one."""
    with _client(url, key, url_endpoint) as client:
        found = find_file(client, file)
        chosen = find_version(client, found, version)
        result = client.restore(found["fileId"], chosen["versionInfo"]["id"])
    _emit(
        as_json,
        result,
        lambda: click.echo(f"{result['filePath']}: {result['versionInfo']['name']} is current"),
    )


@click.command("rm-version", cls=ClientCommand)
@click.argument("file")
@click.argument("version")
@connection_options
def rm_version(
    file: str, version: str, url: str, key: str, url_endpoint: str | None, as_json: bool
) -> None:
    """Delete VERSION (an id, "Version N" or N) of FILE; the current one cannot be."""
    with _client(url, key, url_endpoint) as client:
        found = find_file(client, file)
        chosen = find_version(client, found, version)
        client.delete_version(found["fileId"], chosen["versionInfo"]["id"])
    info = {"fileId": found["fileId"], "deleted": chosen["versionInfo"]}
    _emit(
        as_json,
        info,
        lambda: click.echo(f"{found['filePath']}: {chosen['versionInfo']['name']} deleted"),
    )


@click.command(cls=ClientCommand)
@click.argument("file")
@click.option("--version", "version", default=None, help='An id, "Version N" or N.')
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@connection_options
def download(
    file: str,
    version: str | None,
    output: Path,
    url: str,
    key: str,
    url_endpoint: str | None,
    as_json: bool,
) -> None:
    """Save FILE's current bytes (or VERSION's) to OUTPUT; private and unpublished versions
    are fetched by a signed URL."""
    with _client(url, key, url_endpoint) as client:
        item = find_file(client, file)
        if version is not None:
            item = find_version(client, item, version)
        signed = bool(item.get("isPrivateFile")) or item.get("isPublished") is False
        partial = output.with_name(output.name + ".part")
        size = 0
        source = client.delivery_url(item, signed=signed)
        with client.stream(source) as chunks, open(partial, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        partial.replace(output)
    info = {
        "fileId": item["fileId"],
        "versionInfo": item["versionInfo"],
        "path": str(output),
        "size": size,
    }
    _emit(
        as_json,
        info,
        lambda: click.echo(f"{output}: {size} bytes ({item['versionInfo']['name']})"),
    )


COMMANDS = (upload, ls, versions, restore, rm_version, download)
