"""Where a reconciliation stands: a fixed window of a CRM's change times and the place in it.

A window is fixed when it opens (`until` does not move while it is read), so a record edited
during the reading leaves this window for a later one instead of shifting the pages still
to be read. The place inside it is the integration's own (a last ID, the pieces left).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.model import JsonObject


@dataclass(frozen=True)
class Window:
    """Changes at or after `since` and before `until`, read from `place` on (None: its start)."""

    since: datetime
    until: datetime
    place: JsonObject | None = None


@dataclass(frozen=True)
class Page:
    """One answer of a CRM's list: its records, and where the next page starts (None: the
    window is read to its end)."""

    items: list[JsonObject]
    place: JsonObject | None
    skipped: int = 0  # entries that were not records at all (not an object)


@dataclass(frozen=True)
class Reading:
    """A connection's reconciliation as stored: the open window (if any), where the next one
    starts, and what a person should see (rounds failed in a row, records skipped, the CRM's
    webhook to us switched off)."""

    since: datetime | None = None  # where the next window starts; None: no look yet
    until: datetime | None = None  # the open window's end; None: no window open
    place: JsonObject | None = None
    failures: int = 0
    problem: str | None = None  # why the last round failed
    skipped: int = 0  # records that could not be read, in all
    webhook: str | None = None  # what is wrong with the CRM's webhook to us

    def window(self, first_look: datetime, end: datetime) -> Window | None:
        """The window to read: the open one, else a new one up to `end`; None when there is
        nothing between the last one and `end` yet."""
        if self.since is not None and self.until is not None:
            return Window(self.since, self.until, self.place)
        since = self.since or first_look
        return Window(since, end) if since < end else None
