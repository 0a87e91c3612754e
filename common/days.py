"""Days in the business's time zone: the day a stored UTC time falls on, and where a day
(or a run of days) begins and ends in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common import clock


def day_of(moment: str, zone: ZoneInfo) -> date:
    """The day in `zone` on which a stored time (UTC ISO-8601) falls."""
    return clock.parse(moment).astimezone(zone).date()


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of `day` in `zone`, in UTC: its midnight, as the zone's rules on
    that date say (a day when clocks change is 23 or 25 hours long). Where clocks jump
    forward at midnight itself, zoneinfo reads the missing midnight with the offset before
    the jump (fold=0), which is the moment of the jump: still the day's first moment."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def bounds(first: date, last: date, zone: ZoneInfo) -> tuple[str, str]:
    """The days from `first` to `last` (both included) as stored times [start, end): a
    stored time `t` is on one of them when `start <= t < end`, which an index on the
    column answers."""
    return clock.iso(start_of(first, zone)), clock.iso(start_of(last + timedelta(days=1), zone))


def today(zone: ZoneInfo) -> date:
    """The day it is now in `zone`."""
    return clock.now().astimezone(zone).date()
