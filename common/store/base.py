"""The Store interface every backend implements: `write` a unit of work, `read` a snapshot."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from common.store.tx import Tx

T = TypeVar("T")
Unit = Callable[[Tx], T]


class Later(ABC):
    """A unit's answer with parts the database has yet to send back (a new row's key). Group
    commit calls `read_answers` once every unit of the batch has sent its statements, before
    the commit: on PostgreSQL's pipeline the batch then waits once for all of them, not once
    a unit. (A unit that needs such a key itself just reads it, and waits.)"""

    @abstractmethod
    def read_answers(self) -> None:
        """Read the keys into the answer; called on the writer, inside the transaction."""


class ReadsAhead(ABC):
    """A unit of work whose first read can go before the batch's units run: a PostgreSQL
    batch sends every such unit's read first (`read_ahead`), then runs the units, so the
    batch waits once for all of those answers, not once a unit. A unit run without it (on
    SQLite, or again in a savepoint) just reads when it runs."""

    @abstractmethod
    def read_ahead(self, tx: Tx) -> None:
        """Send the read; nothing here may wait for an answer or change anything."""

    @abstractmethod
    def __call__(self, tx: Tx) -> object:
        """The unit itself."""


@dataclass(frozen=True)
class Batching:
    """Group commit's work so far (common/store/group_commit.py)."""

    batches: int  # batches committed
    units: int  # the units of work they carried
    seconds: float  # the writer's time running them (commits and reruns included)
    cpu_seconds: float  # the writer thread's CPU in that time
    waiting: int  # units waiting for the next batch now
    reruns: int  # batches whose first run failed, run again unit by unit in savepoints
    turn_waits: int = 0  # SQLite: batches that waited for another process's turn to write


class Store(ABC):
    """Units of work are plain synchronous functions `fn(tx) -> result`; none awaits anything.

    `write` runs the unit all-or-nothing and answers after its commit is durable.
    `read` runs the function on one consistent snapshot and never takes a write lock.
    """

    # The business's time zone (dashboard.timezone): the days daily_stats counts in and the
    # date filters mean. `open_store` refuses a database whose days were counted in another.
    zone: ZoneInfo

    @property
    def rate_limits_in_database(self) -> bool:
        """Should limits that must hold across processes (a CRM's requests per second) be
        kept in the database (`tx.rates`)? Yes where processes on several hosts share it;
        with one embedded file, each process's own limiter is enough."""
        return False

    @abstractmethod
    async def write(self, unit: Unit[T]) -> T:
        """Run `unit(tx)` all-or-nothing; answer after its commit is durable.

        A unit may run twice before it commits (group commit re-runs a batch, each unit in a
        savepoint, when one of them raises; a unit that lost a race runs again in the next
        batch). So it acts only through its `tx`: no messages sent, no progress reported, no
        counters bumped outside the database; do those after `write` returns."""

    @abstractmethod
    async def read(self, query: Unit[T]) -> T: ...

    async def write_alone(self, unit: Unit[T]) -> T:
        """A small unit in a transaction of its own, not batched with others: for a hot row
        many processes share (a rate bucket), whose lock must not wait on a whole batch."""
        return await self.write(unit)

    @abstractmethod
    def changed(self) -> bool:
        """Cheap and non-blocking: may there be new work since the last call? SQLite answers
        for any commit to the file; PostgreSQL for a task queued or fallen due (its NOTIFY)."""

    @abstractmethod
    async def kept_secret(self, name: str) -> str:
        """A random secret made on first use and kept beside the database, so every process
        on it, and every restart, reads the same one (common/store/secrets.py)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the data is: a file path, or a URL (with its password, so not for logs)."""

    @abstractmethod
    async def erase_traces(self, tables: Sequence[str], rewrite: bool = True) -> bool:
        """After rows of `tables` were rewritten to erase a person: leave no old copy of them
        in the database's files. SQLite zeroes what it frees (`secure_delete`, on every
        connection) and here moves the WAL into the file and truncates it. PostgreSQL
        VACUUMs the tables: FULL when `rewrite` (new files without the old rows; each table
        locked while it is copied), else plain (space reusable, old bytes left until reused).
        False when it could not be done now (a reader held the WAL)."""

    def problem(self) -> str | None:
        """Why the database cannot take writes now (disk full, I/O error), if it cannot."""
        return None

    @abstractmethod
    def batching(self) -> Batching:
        """Group commit's work so far (the process's /metrics)."""

    @abstractmethod
    async def close(self) -> None: ...
