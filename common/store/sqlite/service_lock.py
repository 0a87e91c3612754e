"""The lock that says a service has the database open, so `restore` never swaps a file in use.

SQLite cannot tell who has its file open (a reader leaves no mark). So each service holds
a shared `flock` on `<database>.lock` for its whole life, and `leadrelay restore` takes it
exclusively without waiting: it gets it only when no service runs, and while it holds it a
starting service waits. The kernel drops a lock when its process ends, even by kill -9, so
a crashed service never leaves the database looking busy. The CLI's short commands (verify,
tasks, backup) do not take it: they may run beside the services.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class DatabaseInUse(Exception):
    """A service (or another restore) holds the database."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def _open(database: Path) -> int:
    database.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock_path(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


class ServiceHold:
    """A service's shared hold on its database, for as long as the service runs."""

    def __init__(self, database: str | Path):
        # A PostgreSQL server knows its own clients; only a SQLite file needs this lock.
        self.fd: int | None = None
        if not str(database).startswith(("postgresql://", "postgres://")):
            self.fd = _open(Path(database))
            try:
                fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("a restore is replacing %s; starting when it is done", database)
                fcntl.flock(self.fd, fcntl.LOCK_SH)  # a restore takes seconds, then lets go

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases its lock
            self.fd = None


@contextmanager
def held_for_restore(database: Path) -> Iterator[None]:
    """The database to ourselves, or DatabaseInUse at once if any service holds it."""
    fd = _open(database)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"a leadrelay service has {database} open (it holds {lock_path(database)});"
                " stop ingest, webhooks, dispatcher and dashboard first"
            ) from None
        yield
    finally:
        os.close(fd)
