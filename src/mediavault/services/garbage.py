"""Removing blobs that lost their last reference, without ever losing one still referenced.

Two phases. Inside the write transaction that drops the last reference, the blob's row is
marked `deleting`. After the commit, each marked blob is deleted while its row is locked and
only if it is still marked and unreferenced; then the row goes. An upload of the same bytes in
between claims the row back (`live`) and rewrites the bytes, since a marked blob's bytes may
already be gone. Uploads reserve their blob's row (`pending`) before publishing, so the bytes
of an upload that died are found the same way. A crash between the phases leaves rows that
`finish_interrupted_deletions` completes at the next start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mediavault.services.stores import Stores
from mediavault.storage.metadata import Transaction


class Garbage:
    def __init__(self) -> None:
        self.marked: list[str] = []

    def collect(self, tx: Transaction, digests: Iterable[str]) -> None:
        self.marked += tx.mark_unreferenced_blobs(digests)


@contextmanager
def collecting_garbage(stores: Stores) -> Iterator[Garbage]:
    """Use as `with collecting_garbage(stores) as garbage, stores.meta.write() as tx:`.

    A transaction that fails leaves no marks (they roll back with it), so nothing is deleted.
    """
    garbage = Garbage()
    yield garbage
    finish_deletions(stores, garbage.marked)


def finish_deletions(stores: Stores, digests: Iterable[str]) -> None:
    for digest in digests:
        with stores.meta.write() as tx:
            if tx.lock_blob_for_deletion(digest):
                stores.blobs.delete(digest)
                tx.forget_blob(digest)
                stores.thumbnails.forget(digest)


def finish_interrupted_deletions(stores: Stores) -> None:
    with stores.meta.read() as tx:
        marked = tx.blobs_marked_for_deletion()
    finish_deletions(stores, marked)
