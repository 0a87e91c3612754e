"""Group commit, whatever the backend: the units of work waiting when a batch starts go to
the database in ONE hop and ONE transaction, and their callers get their answers after
that commit. While one batch commits, the next one gathers. A backend says how a batch
is committed (`_commit`), how a driver error is shown to callers (`_shown`), and which
failures are lost races worth running again in the next batch (`_retryable`)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common.store.base import Unit

Outcome = tuple[BaseException | None, Any]
RETRIES = 5  # runs of a unit that keeps losing races before its caller sees the error


class GroupCommit(ABC):
    def __init__(self, thread_name: str):
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._waiting: list[tuple[Unit[Any], asyncio.Future[Any], int]] = []
        self._committer: asyncio.Task[None] | None = None
        self.batches = 0  # how many commits served how many units: see the benchmarks
        self.units = 0

    @abstractmethod
    def _commit(self, units: list[Unit[Any]]) -> list[Outcome]:
        """On the writer thread: run the units in one transaction; each unit's outcome."""

    def _shown(self, error: BaseException) -> BaseException:
        return error

    def _retryable(self, error: BaseException) -> bool:
        return False

    def _note(self, failures: list[BaseException | None]) -> None:
        """Hear how a batch went (for /healthz); nothing by default."""
        return None

    async def write(self, unit: Unit[Any]) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((unit, future, 1))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, []
            batch = [waiting for waiting in batch if not waiting[1].done()]
            if not batch:
                continue
            units = [unit for unit, _, _ in batch]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._commit, units)
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
            for (unit, future, runs), (failure, result) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if failure is None:
                    future.set_result(result)
                elif self._retryable(failure) and runs < RETRIES:
                    self._waiting.append((unit, future, runs + 1))  # it sees the winner now
                else:
                    future.set_exception(self._shown(failure))

    def _close_connection(self) -> None:
        """On the writer thread, after the last batch: what the backend closes there."""
        return None

    async def close(self) -> None:
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
        self._thread.shutdown(wait=True)
