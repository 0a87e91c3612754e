"""The counter's visit_join_threshold as the Metrica client reads it: cached, and an answer it
cannot read keeps the last date it read, logged once."""

import logging
from datetime import timedelta

import aiohttp

from common import clock
from common.config import YandexSettings
from common.integrations.yandex import YandexDirectIntegration
from tests.emulators import metrica
from tests.emulators.faults import start


async def test_an_unreadable_answer_keeps_the_last_date_and_is_logged_once(move_clock, caplog):
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.threshold_days = 3
    runner, url = await start(metrica.create_app(emulator))
    client = YandexDirectIntegration(
        YandexSettings(base_url=url, token="oauth-1", counter_id=42)  # type: ignore[arg-type]
    )
    try:
        async with aiohttp.ClientSession() as http:
            read = await client.counter_threshold(http)
            assert read is not None
            assert abs(clock.now() - timedelta(days=3) - read) < timedelta(minutes=1)
            emulator.threshold_body = {"days": 3}  # a shape this client does not know
            assert await client.counter_threshold(http) == read  # cached: not asked again
            with caplog.at_level(logging.WARNING):
                move_clock(hours=1, minutes=1)
                assert await client.counter_threshold(http) == read  # asked; kept
                move_clock(minutes=6)
                assert await client.counter_threshold(http) == read  # asked again; kept
            fresh = YandexDirectIntegration(client.settings)
            assert await fresh.counter_threshold(http) is None  # nothing read yet
    finally:
        await runner.cleanup()
    assert emulator.threshold_reads == 4
    unread = [r for r in caplog.records if "visit_join_threshold unread" in r.getMessage()]
    assert len(unread) == 2  # once for each client, not once for each look


async def test_a_date_before_year_one_in_utc_is_no_window_and_holds_no_upload():
    """0001-01-01T00:00:00+14:00 is a date, but in UTC it falls in year 0: it raised
    OverflowError out of the read, and every upload batch with it."""
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.threshold_body = {"date": "0001-01-01T00:00:00+14:00"}
    runner, url = await start(metrica.create_app(emulator))
    client = YandexDirectIntegration(
        YandexSettings(base_url=url, token="oauth-1", counter_id=42)  # type: ignore[arg-type]
    )
    try:
        async with aiohttp.ClientSession() as http:
            assert await client.counter_threshold(http) is None  # the configured window holds
    finally:
        await runner.cleanup()
    assert emulator.threshold_reads == 1 and client.threshold_failing
