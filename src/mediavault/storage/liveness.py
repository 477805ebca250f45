"""Which processes working on a library are alive, asked of the place they all share.

Every process that writes to a library (each server worker, `import`, ...) registers under a
random owner number and holds a lock for as long as it lives; the operating system or the
database drops the lock when the process dies, SIGKILL included. Staging objects, blob leases
and deletions carry their owner's number, so cleanup can tell "in flight" from "abandoned"
without guessing from age alone, and `fsck --repair` can refuse while anyone else is working.

- SQLite (one host by construction): one lock file per owner beside the database, held with
  `flock`.
- PostgreSQL (any number of hosts): a session-level advisory lock per owner, on a connection
  of its own; `pg_locks` shows every session's locks to everyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

# The first half of PostgreSQL's two-part advisory lock key: "mediavault owners".
ADVISORY_CLASS = 7405214
NO_OWNER = 0  # objects written before owners existed, or by a store used outside a library


def new_owner_number() -> int:
    return secrets.randbelow(2**31 - 1) + 1


class Liveness(Protocol):
    owner: int

    def is_alive(self, owner: int) -> bool: ...

    def others_alive(self) -> list[int]:
        """Live owners other than this process."""

    def forget_dead_owners(self) -> None:
        """Drop the records of dead owners (lock files), once their leftovers are gone."""

    def close(self) -> None: ...


class FileLiveness:
    """flock on `<folder>/<owner>.lock`: released by the kernel when the process ends."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.owner = new_owner_number()
        # Locked before it appears under its name, so nobody ever sees it unlocked and
        # takes this live process for a dead one.
        temporary = folder / f"{self.owner}.new"
        self._fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(temporary, self._path(self.owner))

    def is_alive(self, owner: int) -> bool:
        if owner == self.owner:
            return True
        try:
            fd = os.open(self._path(owner), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False  # never registered here, or already forgotten: not a live process
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases the probe's own lock
        return False

    def others_alive(self) -> list[int]:
        owners = {_owner_of(path) for path in self._folder.glob("*.lock")}
        return sorted(o for o in owners if o and o != self.owner and self.is_alive(o))

    def forget_dead_owners(self) -> None:
        for path in self._folder.iterdir():
            owner = _owner_of(path)
            if path.suffix == ".new" and _older_than(path, seconds=60):
                path.unlink(missing_ok=True)  # a process died between creating and renaming
            elif owner is not None and path.suffix == ".lock" and not self.is_alive(owner):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd >= 0:
            self._path(self.owner).unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1

    def _path(self, owner: int) -> Path:
        return self._folder / f"{owner}.lock"


class AdvisoryLockLiveness:
    """A session advisory lock (ADVISORY_CLASS, owner) held on a dedicated connection."""

    def __init__(self, url: sa.URL) -> None:
        # Not from the request pool: this connection lives as long as the process.
        self._engine = sa.create_engine(url, poolclass=sa.NullPool)
        self._connection = self._engine.connect()
        self.owner = new_owner_number()
        self._connection.exec_driver_sql(
            "SELECT pg_advisory_lock(%(c)s, %(o)s)", {"c": ADVISORY_CLASS, "o": self.owner}
        )
        self._connection.commit()

    def is_alive(self, owner: int) -> bool:
        return owner == self.owner or owner in self._locked_owners()

    def others_alive(self) -> list[int]:
        return sorted(o for o in self._locked_owners() if o != self.owner)

    def forget_dead_owners(self) -> None:
        """Nothing to drop: the database forgot each dead owner's lock with its session."""

    def close(self) -> None:
        # Unlocked explicitly: a closed session's locks go only when its backend has exited,
        # a moment after, and the next command must not find this process still "alive".
        with contextlib.suppress(sa.exc.DBAPIError):
            self._connection.exec_driver_sql(
                "SELECT pg_advisory_unlock(%(c)s, %(o)s)", {"c": ADVISORY_CLASS, "o": self.owner}
            )
        self._connection.close()
        self._engine.dispose()

    def _locked_owners(self) -> set[int]:
        with self._engine.connect() as connection:
            rows = connection.exec_driver_sql(
                # Advisory locks are per database: one cluster may hold many libraries.
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %(c)s AND objsubid = 2 AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                {"c": ADVISORY_CLASS},
            )
            return {int(objid) for (objid,) in rows}


def _owner_of(path: Path) -> int | None:
    return int(path.stem) if path.stem.isdigit() else None


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return path.stat().st_mtime < time.time() - seconds
    except FileNotFoundError:
        return False


def liveness_for(engine: sa.Engine) -> Liveness:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        return FileLiveness(database.parent / f"{database.name}.processes")
    return AdvisoryLockLiveness(url)
