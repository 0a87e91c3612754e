"""Days in a time zone: the day of a stored time, and the UTC bounds of days (also the ones
on which clocks change)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from common import clock
from common.days import bounds, day_of, today
from tests.helpers import last_clock_change, local, stored

MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3 all year since 2014
BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1, UTC+2 in summer
MICROSECOND = timedelta(microseconds=1)


def test_a_moscow_night_counts_on_its_moscow_day():
    early, late = local(MOSCOW, 2, 0, 30), local(MOSCOW, 2, 23, 30)
    day = early.date()
    assert stored(early).startswith(str(day - timedelta(days=1)))  # 21:30 UTC the day before
    assert day_of(stored(early), MOSCOW) == day_of(stored(late), MOSCOW) == day
    assert day_of(stored(early), ZoneInfo("UTC")) == day - timedelta(days=1)


def test_bounds_of_moscow_days_are_their_midnights_in_utc():
    first = local(MOSCOW, 5, 12).date()
    start, end = bounds(first, first + timedelta(days=2), MOSCOW)
    midnight = datetime.combine(first, time(), UTC) - timedelta(hours=3)
    assert start == clock.iso(midnight)
    assert end == clock.iso(midnight + timedelta(days=3))


def test_a_day_when_clocks_change_is_23_or_25_hours_long():
    day = last_clock_change(BERLIN)
    start, end = (clock.parse(t) for t in bounds(day, day, BERLIN))
    offsets = [datetime.combine(d, time(12), BERLIN).utcoffset() for d in (day - timedelta(1), day)]
    assert start == datetime.combine(day, time(), UTC) - offsets[0]
    assert end == datetime.combine(day + timedelta(days=1), time(), UTC) - offsets[1]
    assert end - start in (timedelta(hours=23), timedelta(hours=25))
    assert day_of(clock.iso(start - MICROSECOND), BERLIN) == day - timedelta(days=1)
    assert day_of(clock.iso(start), BERLIN) == day_of(clock.iso(end - MICROSECOND), BERLIN) == day
    assert day_of(clock.iso(end), BERLIN) == day + timedelta(days=1)


def test_today_is_the_zone_s_today():
    for name, hours in (("Pacific/Kiritimati", 14), ("Pacific/Pago_Pago", -11)):  # no DST
        before = clock.now()
        got = today(ZoneInfo(name))
        after = clock.now()
        assert got in {(moment + timedelta(hours=hours)).date() for moment in (before, after)}
