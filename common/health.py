"""What /healthz reports: a process that cannot do its work says so instead of stalling quietly.

Each loop a process must keep running registers here with how long a round may take at
most, and beats after every round it completes. /healthz answers 503 naming the problem
when a loop has not completed a round in that time, when work reports a problem (a CRM's
webhook switched off, reconciliation failing round after round, our credentials refused),
or when the database
refused the last write for a reason of its own (disk full, I/O error). A problem that work
elsewhere can mend (another process on the same database) is reported with a recheck, which
/healthz asks before it answers.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Whether a reported problem still holds, asked when /healthz is: work elsewhere (another
# process on the same database) may have mended it without this process hearing of it.
Recheck = Callable[[], Awaitable[bool]]


@dataclass
class Loop:
    name: str
    allowed: float  # seconds a round may take before the loop counts as stalled
    last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    def problem(self) -> str | None:
        quiet = time.monotonic() - self.last
        if quiet <= self.allowed:
            return None
        return f"{self.name} has made no progress for {quiet:.0f} s (allowed {self.allowed:.0f} s)"


class Health:
    def __init__(self) -> None:
        self.loops: list[Loop] = []
        self.reported: dict[str, str] = {}  # by what it is about: a problem a task found
        # Told of every report, e.g. the dispatcher's alerts (a problem once, its end once).
        self.listeners: list[Callable[[str, str | None], None]] = []
        self._rechecks: dict[str, tuple[int, Recheck]] = {}  # by about: (report number, check)
        self._numbers = itertools.count()

    def report(self, about: str, problem: str | None, recheck: Recheck | None = None) -> None:
        """A problem some work found (a CRM's webhook switched off, a round that keeps
        failing) until it reports None for the same thing, or its `recheck` finds it gone."""
        self._rechecks.pop(about, None)
        if problem is None:
            self.reported.pop(about, None)
        else:
            self.reported[about] = problem
            if recheck is not None:
                self._rechecks[about] = (next(self._numbers), recheck)
        for listener in self.listeners:
            listener(about, problem)

    def watch(self, name: str, allowed: float) -> Loop:
        loop = Loop(name, allowed)
        self.loops.append(loop)
        return loop

    def problems(self) -> list[str]:
        stalled = [problem for loop in self.loops if (problem := loop.problem())]
        return stalled + list(self.reported.values())

    async def rechecked(self) -> list[str]:
        """problems(), once each problem reported with a recheck was asked whether it still
        holds. One reported again while its check ran stays (the check read an older state);
        a check that fails leaves its problem as it was."""
        for about, (number, recheck) in list(self._rechecks.items()):
            try:
                holds = await recheck()
            except Exception:  # the database's own trouble is /healthz's other line
                log.warning("a health recheck failed", extra={"about": about}, exc_info=True)
                continue
            current = self._rechecks.get(about)
            if not holds and current is not None and current[0] == number:
                self.report(about, None)
        return self.problems()
