"""What /healthz reports: a process that cannot do its work says so instead of stalling quietly.

Each loop a process must keep running registers here with how long a round may take at
most, and beats after every round it completes. /healthz answers 503 naming the problem
when a loop has not completed a round in that time, when work reports a problem (a CRM's
webhook switched off, reconciliation failing round after round, our credentials refused),
or when the database
refused the last write for a reason of its own (disk full, I/O error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


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

    def report(self, about: str, problem: str | None) -> None:
        """A problem some work found (a CRM's webhook switched off, a round that keeps
        failing) until it reports None for the same thing."""
        if problem is None:
            self.reported.pop(about, None)
        else:
            self.reported[about] = problem
        for listener in self.listeners:
            listener(about, problem)

    def watch(self, name: str, allowed: float) -> Loop:
        loop = Loop(name, allowed)
        self.loops.append(loop)
        return loop

    def problems(self) -> list[str]:
        stalled = [problem for loop in self.loops if (problem := loop.problem())]
        return stalled + list(self.reported.values())
