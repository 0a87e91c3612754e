"""Group commit, whatever the backend: the units of work waiting when a batch starts go to
the database in ONE hop and ONE transaction, and their callers get their answers after
that commit. While one batch commits, the next one gathers.

The batch runs together first, without savepoints (the usual case costs none; on PostgreSQL
in pipeline mode, so its statements do not each wait for a round trip). If a unit raises (or
the pipeline reports an error at its end), the transaction is rolled back and the batch runs
again with each unit in its own SAVEPOINT, so a failing unit rolls back alone while the
others commit. So a unit may run twice before it commits: it must act only through its `tx`.
The counters the units add to are gathered and written once per row at the batch's end (in
savepoints, at each unit's end): see common/store/counters.py. A backend whose COMMIT returns
before it is durable (SQLite's writer) answers the callers once it is, while the next batch
already runs (`_answer_when_durable`).

A backend gives the hooks: the connection a batch runs on (`_connection`), how a
transaction begins, commits and rolls back, how a statement is run (the savepoints), whether
an error ended the transaction or broke the connection, how a driver error is shown to
callers (`_shown`), and which failures are lost races worth running again in the next batch
(`_retryable`)."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Generic, TypeVar, cast

from common.store.base import Batching, Later, ReadsAhead, Unit
from common.store.tx import Tx

Outcome = tuple[BaseException | None, object]
RETRIES = 5  # runs of a unit that keeps losing races before its caller sees the error
C = TypeVar("C")  # the backend's connection
T = TypeVar("T")


class GroupCommit(ABC, Generic[C]):
    def __init__(self, thread_name: str):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._waiting: list[tuple[Unit[object], asyncio.Future[object], int]] = []
        self._committer: asyncio.Task[None] | None = None
        # How many batches served how many units, in how long on the writer (each batch's
        # run, its commit and any run again in savepoints) and how much of it its CPU (the
        # rest it waited: for the disk, a lock, the server, the GIL): /metrics shows them.
        self.batches = 0
        self.units = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.reruns = 0  # batches run again unit by unit: a unit failed, or lost a race

    @abstractmethod
    def _connection(self) -> AbstractContextManager[tuple[C, Tx]]:
        """On the writer thread: the connection a batch runs on, and a Tx over it."""

    @abstractmethod
    def _begin(self, conn: C) -> None:
        """Open the batch's transaction (taking the write lock where there is one)."""

    @abstractmethod
    def _commit(self, conn: C) -> None: ...

    @abstractmethod
    def _rollback(self, conn: C) -> None:
        """Roll back the transaction, if one is still open."""

    @abstractmethod
    def _execute(self, conn: C, statement: str) -> None:
        """Run one statement that needs no answer (the savepoints)."""

    @abstractmethod
    def _in_transaction(self, conn: C) -> bool:
        """Is the batch's transaction still open? (An error may have ended it.)"""

    def _broken(self, error: BaseException) -> bool:
        """Did `error` break the connection itself? Then the batch is not run again."""
        return False

    def _run_batch(self, units: list[Unit[object]]) -> list[Outcome]:
        """On the writer thread: the units in one transaction; each unit's outcome."""
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._run_units(units)
        finally:  # only this thread adds to them
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.thread_time() - cpu

    def _run_units(self, units: list[Unit[object]]) -> list[Outcome]:
        with self._connection() as (conn, tx):
            tx.sql.gather(True)  # counter additions: once per row a batch (common.store.counters)
            self._begin(conn)
            try:
                outcomes = self._together(conn, tx, units)
                if isinstance(outcomes, Exception):
                    self._rollback(conn)
                    tx.sql.drop_gathered()  # nothing of the first run may reach the second
                    # Even a batch of one runs again: its first run kept its INSERTs (or
                    # did not wait for each answer), so the error may have surfaced away
                    # from its statement; in a savepoint that statement raises the error its
                    # code expects (a refused event version: ConcurrencyConflict, not the
                    # driver's unique violation).
                    if self._broken(outcomes):
                        return [(outcomes, None)] * len(units)
                    self.reruns += 1
                    self._begin(conn)
                    outcomes = [self._in_savepoint(conn, tx, unit) for unit in units]
                self._commit(conn)
                return outcomes
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                tx.sql.gather(False)

    def _together(self, conn: C, tx: Tx, units: list[Unit[object]]) -> list[Outcome] | Exception:
        """Every unit in the one transaction, or the first error; a backend may send their
        statements without waiting for each answer here, or keep its INSERTs for the batch's
        end (any error sends the batch to its savepoints, which run one statement at a time
        and so name each unit's own error)."""
        return _together(tx, units)

    @staticmethod
    def _reads_first(tx: Tx, units: list[Unit[object]]) -> list[Outcome] | Exception:
        """The units' reads that can go ahead (`ReadsAhead`) before any unit runs, then the
        units together: no unit's read comes between the batch's writes. What was asked
        ahead ends with the run (run again in savepoints, each unit asks anew)."""
        try:
            for unit in units:
                if isinstance(unit, ReadsAhead):
                    unit.read_ahead(tx)
            return _together(tx, units)
        finally:
            tx.leads.history.forget()

    def _in_savepoint(self, conn: C, tx: Tx, unit: Unit[object]) -> Outcome:
        self._execute(conn, "SAVEPOINT unit")
        try:
            result = unit(tx)
            _finish(tx, [result])  # inside its savepoint: rolled back with it
        except Exception as error:
            tx.sql.drop_gathered()
            if not self._in_transaction(conn):
                raise  # the error ended the whole transaction: the batch fails with it
            self._execute(conn, "ROLLBACK TO SAVEPOINT unit")
            self._execute(conn, "RELEASE SAVEPOINT unit")
            return error, None
        self._execute(conn, "RELEASE SAVEPOINT unit")
        return None, result

    def _shown(self, error: BaseException) -> BaseException:
        return error

    def _retryable(self, error: BaseException) -> bool:
        return False

    def _note(self, failures: list[BaseException | None]) -> None:
        """Hear how a batch went (for /healthz); nothing by default."""
        return None

    async def write(self, unit: Unit[T]) -> T:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting.append((unit, future, 1))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._drain())
        return cast(T, await future)  # the future holds what `unit` returned

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, []
            batch = [waiting for waiting in batch if not waiting[1].done()]
            if not batch:
                continue
            units = [unit for unit, _, _ in batch]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._run_batch, units)
            except BaseException as error:
                self._note([error])
                for _, future, _ in batch:
                    if not future.done():
                        future.set_exception(self._shown(error))
                if isinstance(error, asyncio.CancelledError):
                    raise
                continue
            self.batches += 1
            self.units += len(batch)
            self._note([failure for failure, _ in outcomes])
            committed: list[tuple[asyncio.Future[object], object]] = []
            for (unit, future, runs), (failure, result) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if failure is None:
                    committed.append((future, result))
                elif self._retryable(failure) and runs < RETRIES:
                    self._waiting.append((unit, future, runs + 1))  # it sees the winner now
                else:
                    future.set_exception(self._shown(failure))
            self._answer(committed)

    def batching(self) -> Batching:
        """What group commit has done so far, and how many units wait for the next batch."""
        return Batching(
            self.batches,
            self.units,
            self.seconds,
            self.cpu_seconds,
            len(self._waiting),
            self.reruns,
        )

    def _answer(self, committed: list[tuple[asyncio.Future[object], object]]) -> None:
        """The committed units' callers get their answers once the commit is durable."""
        if not committed or not self._answer_when_durable(committed):
            self._answered(committed, None)

    def _answer_when_durable(self, committed: list[tuple[asyncio.Future[object], object]]) -> bool:
        """Right after a commit that its COMMIT did not make safe from a power cut: arrange
        for `_answered` to be called (on the event loop) once it is, and say True (SQLite's
        writer: an fsync of the WAL on a thread of its own, while the next batch runs).
        False: the commit was durable when it returned."""
        return False

    def _answered(
        self, committed: list[tuple[asyncio.Future[object], object]], error: BaseException | None
    ) -> None:
        if error is not None:  # the commit may not survive a power cut: not accepted
            self._note([error])
            failed = self._shown(error)
            for future, _ in committed:
                if not future.done():
                    future.set_exception(failed)
            return
        for future, result in committed:
            if not future.done():
                future.set_result(result)

    async def _all_answered(self) -> None:
        """Before closing: until every committed batch's callers have their answers."""
        return None

    def _close_connection(self) -> None:
        """On the writer thread, after the last batch: what the backend closes there."""
        return None

    async def close(self) -> None:
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        await self._all_answered()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
        self._thread.shutdown(wait=True)


def _together(tx: Tx, units: list[Unit[object]]) -> list[Outcome] | Exception:
    """Every unit in the one transaction; the first error instead, if any unit raises."""
    results: list[Outcome] = []
    for unit in units:
        try:
            results.append((None, unit(tx)))
        except Exception as error:
            return error  # the batch rolls back, and drops what it gathered
    try:
        _finish(tx, [result for _, result in results])  # one wait for the whole batch's keys
    except Exception as error:
        return error
    return results


def _finish(tx: Tx, results: list[object]) -> None:
    """After units ran: the counters they added written, each row once, then the answers
    they still wait for read (`Later`)."""
    tx.sql.write_gathered()
    for result in results:
        if isinstance(result, Later):
            result.read_answers()
