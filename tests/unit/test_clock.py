"""common.clock: the store's time as text, the same instant datetime would write."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from common import clock

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "nanoseconds",
    [
        # One second's last microsecond, then the next second's first two: the second's text,
        # written once a second, must move on with it (and not stay behind for a call).
        1_795_996_799_999_999_000,
        1_795_996_800_000_000_000,
        1_795_996_800_000_001_999,
        # A new day, month and year at midnight; and back to an earlier second.
        1_798_761_599_999_999_000,
        1_798_761_600_000_000_000,
        946_684_799_123_456_000,
    ],
)
def test_now_iso_writes_the_instant_as_isoformat_would(monkeypatch, nanoseconds):
    monkeypatch.setattr(time, "time_ns", lambda: nanoseconds)
    instant = EPOCH + timedelta(microseconds=nanoseconds // 1000)
    assert clock.now_iso() == instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert clock.now_iso() == clock.iso(instant)


def test_now_iso_reads_the_same_clock_as_now():
    before = clock.now()
    text = clock.now_iso()
    after = clock.now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
    assert before <= clock.parse(text) <= after


def test_now_iso_moves_with_the_clock(move_clock):
    start = clock.parse(clock.now_iso())
    move_clock(days=45, seconds=3)
    moved = clock.parse(clock.now_iso())
    assert timedelta(days=45, seconds=3) <= moved - start < timedelta(days=45, seconds=13)
