"""Where a reconciliation stands: a fixed window of a CRM's change times and the place in it.

A window is fixed when it opens (`until` does not move while it is read), so a record edited
during the reading leaves this window for a later one instead of shifting the pages still
to be read. The place inside it is the integration's own (a last ID, the pieces left).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from common.errors import BadRequest, InvalidField
from common.model import JsonObject, Notice


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


@dataclass(frozen=True)
class Recheck:
    """A CRM's answer about the deals of paid leads, by the id asked: what each says now (a
    deal missing from the answer: deleted), and how many entries could not be read."""

    notices: dict[str, Notice]
    skipped: int = 0


def recheck(
    refs: list[str],
    items: list[object],
    ref_of: Callable[[JsonObject], str],
    notice_of: Callable[[JsonObject], Notice],
    deleted: Callable[[str], Notice],
) -> Recheck:
    """What the CRM's list of the asked records means. A record that cannot be read is
    skipped, not taken for deleted; and while an entry is not a record asked for, no missing
    record is taken for deleted either (that entry may be it): a wrong reversal is money lost."""
    notices: dict[str, Notice] = {}
    unreadable: set[str] = set()
    strays = 0  # entries that are no record, or one not asked for
    for item in items:
        ref = ref_of(item) if isinstance(item, dict) else ""
        if not isinstance(item, dict) or ref not in refs:
            strays += 1
            continue
        try:
            notice = notice_of(item)
        except (BadRequest, InvalidField):
            unreadable.add(ref)
            continue
        if notices.setdefault(ref, notice) != notice:
            unreadable.add(ref)  # the same record said two ways: believe neither this round
    for ref in unreadable:
        notices.pop(ref, None)
    missing = [ref for ref in refs if ref not in notices and ref not in unreadable]
    if not strays:
        notices |= {ref: deleted(ref) for ref in missing}
    return Recheck(notices, len(unreadable) + strays)
