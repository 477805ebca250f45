"""Moving a whole library between backends (SQLite + disk <-> PostgreSQL + S3).

An export is a folder: `library.jsonl` holds every metadata row (one JSON object a line, table
by table, in dependency order) and `blobs/` holds each blob once, by content address. Import
writes the blobs first, each checked against its digest, then every row in one transaction:
ids, version numbers and timestamps are kept exactly. Webhook events still waiting in the
outbox stay behind.

Both directions stream, so memory does not grow with the library: export reads each table in
batches (a server-side cursor on PostgreSQL), and import reads the file line by line, twice
(the blobs, then the rows), inserting a batch of rows at a time.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediavault.errors import InvalidRequest
from mediavault.services.stores import Stores
from mediavault.storage.blobs import BlobWriter, LocalBlobStore

ROWS_FILE = "library.jsonl"
FORMAT = "mediavault-export/1"
# Rows inserted per statement: large enough that a row costs little more than its bytes on the
# wire, small enough that a batch is a few hundred kB of memory.
IMPORT_BATCH_ROWS = 1000


@dataclass(frozen=True)
class TransferSummary:
    rows: dict[str, int]
    blobs: int


def export_library(stores: Stores, target: Path) -> TransferSummary:
    if target.exists() and any(target.iterdir()):
        raise InvalidRequest(f"{target} is not empty: export into a new folder.")
    blob_folder = LocalBlobStore(target / "blobs")
    counts: dict[str, int] = {}
    blobs = 0
    with stores.meta.read() as tx, open(target / ROWS_FILE, "w", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT}) + "\n")
        for table, row in tx.export_rows():
            out.write(json.dumps({"table": table, "row": row}, ensure_ascii=False) + "\n")
            counts[table] = counts.get(table, 0) + 1
            if table == "blobs":
                _copy_blob(stores, row["digest"], blob_folder)
                blobs += 1
    blob_folder.clear_staging()
    (target / "blobs" / ".staging").rmdir()
    return TransferSummary(counts, blobs)


def import_library(stores: Stores, source: Path) -> TransferSummary:
    next(_read_rows(source), None)  # a missing file or a wrong format fails before anything
    with stores.meta.read() as tx:
        if not tx.is_empty():
            raise InvalidRequest("The target library is not empty: import into a new one.")
    exported = LocalBlobStore(source / "blobs")
    blobs = 0
    for table, row in _read_rows(source):
        if table != "blobs":
            continue
        writer = stores.blobs.stage(row["size"])
        with exported.open(row["digest"]) as reader:
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                writer.write(chunk)
        staged = writer.finish()
        if staged.digest != row["digest"] or staged.size != row["size"]:
            stores.blobs.discard(staged)
            raise InvalidRequest(f"blob {row['digest']} in {source} is corrupt")
        stores.blobs.publish(staged, overwrite=False)
        blobs += 1
    counts: dict[str, int] = {}
    with stores.meta.write() as tx:
        for table, batch in _batches(_read_rows(source)):
            tx.import_rows(table, batch)
            counts[table] = counts.get(table, 0) + len(batch)
    return TransferSummary(counts, blobs)


def _copy_blob(stores: Stores, digest: str, into: LocalBlobStore) -> None:
    writer = into.stage(1 << 62)
    with stores.blobs.open(digest) as reader:
        shutil.copyfileobj(reader, _Writer(writer), 1 << 20)
    staged = writer.finish()
    if staged.digest != digest:
        into.discard(staged)
        raise InvalidRequest(f"blob {digest} does not match its digest: run fsck")
    into.publish(staged, overwrite=False)


class _Writer:
    """A BlobWriter as the file object shutil.copyfileobj writes to."""

    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        return len(data)


def _read_rows(source: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The export's rows, one line read at a time."""
    path = source / ROWS_FILE
    if not path.exists():
        raise InvalidRequest(f"{source} holds no {ROWS_FILE}: not a mediavault export.")
    with open(path, encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines, "{}"))
        except ValueError:
            header = {}
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise InvalidRequest(f"{path} is not in the {FORMAT} format.")
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                table, row = record["table"], record["row"]
            except (ValueError, TypeError, KeyError):
                raise InvalidRequest(f"{path}, line {number}: not an export row.") from None
            yield table, row


def _batches(
    rows: Iterator[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Consecutive rows of one table, at most IMPORT_BATCH_ROWS at a time."""
    for table, group in itertools.groupby(rows, key=lambda item: item[0]):
        while batch := [row for _, row in itertools.islice(group, IMPORT_BATCH_ROWS)]:
            yield table, batch
