"""Whose turn it is to write, among the processes that share one SQLite file.

SQLite lets one connection write at a time. One that finds the write lock held waits in its
busy handler, which sleeps and looks again: 1, 2, 5, 10, 15, 20, 25 … ms apart (SQLite's
`sqliteDefaultBusyCallback`). A batch here takes a few milliseconds, so a writer that had to
wait once slept past the moment the lock came free, often twice over, while the other process
could take the lock again. With ingest and the dispatcher writing all the time, every lead's
way from its POST to its delivery paid those sleeps.

So each process's writer first takes an exclusive `flock` on `<database>.write-turn` and holds
it from its BEGIN IMMEDIATE to its COMMIT or ROLLBACK. A writer that finds the turn taken
sleeps in the kernel, which wakes it the moment the holder lets go; the kernel drops a dead
process's lock, so a crash never leaves the turn taken. SQLite's own lock still decides what
is safe: a connection that takes no turn (a `sqlite3` shell, the CLI's short commands) is
waited for in the busy handler as before, and a writer that somehow wrote without the turn
would only have waited longer.

The wait for a turn is bounded by busy_timeout, as SQLite's is: a blocking `flock` cannot
time out, so a contended turn is waited for on a thread of its own, and the writer waits for
that thread at most busy_timeout. Then the batch fails as a busy database does (503, named on
/healthz), and the turn, once it comes, is handed to the next batch, or let go if none waits.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as WaitedTooLong
from pathlib import Path
from queue import SimpleQueue


def turn_path(database: str | Path) -> Path:
    return Path(f"{database}.write-turn")


class WriteTurn:
    def __init__(self, database: str | Path, timeout: float):
        self._fd = os.open(turn_path(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._timeout = timeout
        # A daemon thread: one still blocked in `flock` when the process ends must not keep
        # it from ending.
        self._requests: SimpleQueue[Future[None] | None] = SimpleQueue()
        threading.Thread(target=self._wait_turns, name="leadrelay-turn", daemon=True).start()
        self._mutex = threading.Lock()
        # A wait that outlived its writer's patience: the next `take` claims it; if the turn
        # comes before anyone does, `_late` lets it go.
        self._abandoned: Future[None] | None = None
        self.held = False
        self.waited = 0  # turns that were not free at once (how often the processes met)

    def take(self) -> None:
        """Block until this process may write (at most `timeout`, then a busy error)."""
        with self._mutex:
            wait, self._abandoned = self._abandoned, None
        if wait is None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return
            except BlockingIOError:
                self.waited += 1
                wait = Future()
                self._requests.put(wait)
        try:
            wait.result(timeout=self._timeout)
        except WaitedTooLong:
            with self._mutex:
                self._abandoned = wait
            wait.add_done_callback(self._late)
            raise sqlite3.OperationalError(
                "database is locked: another process kept its turn to write past busy_timeout"
            ) from None
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _wait_turns(self) -> None:
        while (wait := self._requests.get()) is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError as error:
                wait.set_exception(error)
            else:
                wait.set_result(None)

    def _late(self, wait: Future[None]) -> None:
        """On the waiting thread: a turn no writer waits for any more is let go."""
        with self._mutex:
            if self._abandoned is not wait:
                return  # claimed by a `take` meanwhile: that writer holds it now
            self._abandoned = None
            if wait.exception() is None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._requests.put(None)
        os.close(self._fd)  # closing the descriptor lets any turn go
