"""Progress bars for people (rich), on standard error so that standard output stays data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from mediavault.services.imagekit_import import Progress as ImportProgress


class _Amount(ProgressColumn):
    """`done/total` for counts, human sizes for bytes (a task with `unit="bytes"`)."""

    def render(self, task: Task) -> Text:
        total = "?" if task.total is None else task.total
        if task.fields.get("unit") == "bytes":
            done = filesize.decimal(int(task.completed))
            whole = "?" if task.total is None else filesize.decimal(int(task.total))
            return Text(f"{done}/{whole}", style="progress.download")
        return Text(f"{int(task.completed)}/{total}", style="progress.download")


def _bars(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _Amount(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


class ImportBars(ImportProgress):
    """Files, versions and bytes of an import, with the time remaining."""

    def __init__(self, bars: Progress) -> None:
        self._counts = self._sizes = bars
        self._files = bars.add_task("files", total=None)
        self._versions = bars.add_task("versions", total=None)
        self._bytes = bars.add_task("bytes", total=None, unit="bytes")

    def planned(self, files: int, versions: int, size: int) -> None:
        self._counts.update(self._files, total=files)
        self._counts.update(self._versions, total=versions)
        self._sizes.update(self._bytes, total=size)

    def advance(self, files: int = 0, versions: int = 0, size: int = 0) -> None:
        if files:
            self._counts.advance(self._files, files)
        if versions:
            self._counts.advance(self._versions, versions)
        if size:
            self._sizes.advance(self._bytes, size)


@contextmanager
def import_bars(enabled: bool = True) -> Iterator[ImportBars]:
    with _bars(enabled) as bars:
        yield ImportBars(bars)


class UploadBars:
    """One bar per file and one for the whole upload, in bytes."""

    def __init__(self, bars: Progress, total: int) -> None:
        self._bars = bars
        self._lock = threading.Lock()
        self._overall = bars.add_task("all files", total=total, unit="bytes")

    def file(self, name: str, size: int) -> TaskID:
        with self._lock:
            return self._bars.add_task(name, total=size, unit="bytes")

    def advance(self, task: TaskID, size: int) -> None:
        with self._lock:
            self._bars.advance(task, size)
            self._bars.advance(self._overall, size)


@contextmanager
def upload_bars(total: int, enabled: bool = True) -> Iterator[UploadBars]:
    with _bars(enabled) as bars:
        yield UploadBars(bars, total)
