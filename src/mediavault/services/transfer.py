"""Moving a whole library between backends (SQLite + disk <-> PostgreSQL + S3).

An export is a folder: `library.jsonl` holds every metadata row (one JSON object a line, table
by table, in dependency order) and `blobs/` holds each blob once, by content address. Import
writes the blobs first, each checked against its digest, then every row in one transaction:
ids, version numbers and timestamps are kept exactly. Webhook events still waiting in the
outbox stay behind.
"""

from __future__ import annotations

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
    rows = list(_read_rows(source))
    with stores.meta.read() as tx:
        if not tx.is_empty():
            raise InvalidRequest("The target library is not empty: import into a new one.")
    exported = LocalBlobStore(source / "blobs")
    blobs = 0
    for table, row in rows:
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
        for table, row in rows:
            tx.import_row(table, row)
            counts[table] = counts.get(table, 0) + 1
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
    path = source / ROWS_FILE
    if not path.exists():
        raise InvalidRequest(f"{source} holds no {ROWS_FILE}: not a mediavault export.")
    with open(path, encoding="utf-8") as lines:
        header = json.loads(next(lines))
        if header.get("format") != FORMAT:
            raise InvalidRequest(f"{path} is not in the {FORMAT} format.")
        for line in lines:
            record = json.loads(line)
            yield record["table"], record["row"]
