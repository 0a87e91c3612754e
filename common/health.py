"""What /healthz reports: a process that cannot do its work says so instead of stalling quietly.

Each loop a process must keep running registers here with how long a round may take at
most, and beats after every round it completes. /healthz answers 503 naming the problem
when a loop has not completed a round in that time, or when the database refused the last
write for a reason of its own (disk full, I/O error), and while a CRM refuses our credentials.
"""

from __future__ import annotations

import time
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
        self.refusals: dict[str, str] = {}  # what refused us (a CRM connection) -> why

    def refused(self, what: str, problem: str) -> None:
        """Credentials were refused: a problem at once (a person must act), until `accepted`."""
        self.refusals[what] = problem

    def accepted(self, what: str) -> None:
        self.refusals.pop(what, None)

    def watch(self, name: str, allowed: float) -> Loop:
        loop = Loop(name, allowed)
        self.loops.append(loop)
        return loop

    def problems(self) -> list[str]:
        stalled = [problem for loop in self.loops if (problem := loop.problem())]
        return stalled + list(self.refusals.values())
