"""ServerClock: a shared bucket's turns are placed by the server's clock, mapped through the
quickest recent round trip, so an answer heard late does not place its turns late."""

from __future__ import annotations

import pytest

from common.ratelimit import ServerClock


def test_a_late_answer_is_placed_by_the_server_s_clock_not_by_when_it_was_heard():
    clock = ServerClock()
    # A quick round trip: the server (clock 1,000 s ahead) answered within 2 ms.
    assert clock.local(1_001.001, 1.000, 1.002) == pytest.approx(1.001)
    # Heard 80 ms after it was sent (a busy event loop), read by the server 5 ms in.
    placed = clock.local(1_002.005, 2.000, 2.080)
    assert placed == pytest.approx(2.005)  # not 2.080: the turns stay where they were given


def test_a_reading_is_never_placed_outside_its_own_round_trip():
    clock = ServerClock()
    clock.local(1_001.001, 1.000, 1.002)
    # The server's clock was stepped back 10 s since: the reading maps before it was sent.
    assert clock.local(992.000, 2.000, 2.003) == 2.000
    # And forward: after its answer came.
    assert clock.local(1_020.000, 3.000, 3.004) == 3.004


def test_old_samples_are_forgotten():
    clock = ServerClock()
    clock.local(1_001.001, 1.000, 1.002)  # quick, but more than WINDOW seconds before the next
    later = 1.0 + ServerClock.WINDOW + 10
    # A slower round trip is now the best there is: its own midpoint maps the server's clock
    # (the server's clock is now 2,000 s ahead: the first offset would place it far outside).
    assert clock.local(later + 2_000.010, later, later + 0.020) == pytest.approx(later + 0.010)
