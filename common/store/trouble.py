"""Why a store's writes fail now, as /healthz says it, the same on both backends.

Two kinds of trouble, told apart by the backend: the database cannot take writes at all (the
disk is full, the file is gone, the server is down: named until a write succeeds), or a lock
was held past busy_timeout by another connection (a SQLite shell left in a transaction, a
PostgreSQL session holding a row or the event-order lock), so writes waited and answered 503.
A held lock is named while writes keep being refused, else for LOCKED_SECONDS after the last
refusal: a process that writes rarely may not try again soon, and a line that stayed for ever
would outlive the lock."""

from __future__ import annotations

import time
from collections.abc import Callable

LOCKED_SECONDS = 30.0

Judge = Callable[[BaseException], bool]  # does this error say so?


class WriteTrouble:
    def __init__(self, unavailable: Judge, busy: Judge, lock: str):
        self._unavailable = unavailable
        self._lock = lock  # what the backend's writes wait for, as the line names it
        self._busy = busy
        self.failing: str | None = None  # the database cannot take writes: why
        self._locked: tuple[float, str] | None = None  # when a write last found a lock held

    def heard(self, failures: list[BaseException | None]) -> list[BaseException]:
        """A batch's outcomes (None: that unit committed); the failures that said the
        database cannot take writes, for the backend's own follow-up."""
        failed = [f for f in failures if f is not None]
        broken = [f for f in failed if self._unavailable(f)]
        locked = [f for f in failed if self._busy(f)]
        if broken:
            self.failing = str(broken[0]).strip() or broken[0].__class__.__name__
        elif locked:
            self._locked = (time.monotonic(), str(locked[0]).strip())
        if not broken and len(failed) < len(failures):  # a write committed
            self.failing = self._locked = None
        return broken

    def problem(self) -> str | None:
        if self.failing is not None:
            return self.failing
        if self._locked is not None and time.monotonic() - self._locked[0] < LOCKED_SECONDS:
            return (
                f"another connection held {self._lock} past busy_timeout, so writes were"
                f" refused ({self._locked[1]})"
            )
        return None
