"""Removing blobs that lost their last reference, without ever losing one still referenced.

Inside the write transaction, unreferenced blob rows are deleted and their files renamed into
the trash; after the commit the trash is emptied. If the transaction fails, the files are put
back. A crash between the two leaves trash that `LocalBlobStore.recover` sorts out at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mediavault.services.stores import Stores
from mediavault.storage.blobs import TrashedBlob
from mediavault.storage.metadata import Transaction


class Garbage:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._trashed: list[TrashedBlob] = []

    def collect(self, tx: Transaction, digests: Iterable[str]) -> None:
        for digest in tx.drop_unreferenced_blobs(digests):
            trashed = self._stores.blobs.trash(digest)
            if trashed is not None:
                self._trashed.append(trashed)


@contextmanager
def collecting_garbage(stores: Stores) -> Iterator[Garbage]:
    """Use as `with collecting_garbage(stores) as garbage, stores.meta.write() as tx:`."""
    garbage = Garbage(stores)
    try:
        yield garbage
    except BaseException:
        for trashed in garbage._trashed:
            stores.blobs.restore(trashed)
        raise
    for trashed in garbage._trashed:
        stores.blobs.purge(trashed)
        stores.thumbnails.forget(trashed.digest)
