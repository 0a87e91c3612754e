"""Yandex Direct's Reports service answering a 200 with no report in it: an empty body (a
proxy's), or the column line alone. A range's costs are zeroed only by a report that says
it has no rows ("Total rows: 0"), never by one that says nothing."""

from decimal import Decimal

import pytest

from common.model import TaskStatus
from services.dispatcher.app import create_app
from tests.integration.test_cost_imports import costs, day, queue, settled, with_direct

COLUMNS = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n"


@pytest.mark.parametrize("hollow", ["", COLUMNS], ids=["empty", "the column line alone"])
async def test_a_200_without_rows_or_their_count_zeroes_no_cost(
    aiohttp_client, settings, store, account, hollow
):
    """Before: it was read as a report of no rows and the range's costs were replaced by
    zeros (a DIRECT_COST_REPORTED of 0 each), until a later import put them back."""
    account.set_cost(day(2), "701", "spring-sale", 100, 10, "100.00")
    settings = with_direct(settings, account.url)
    await aiohttp_client(create_app(settings))
    [first] = await queue(store, settings, day(2), day(2))
    assert (await settled(store, first)).status == TaskStatus.COMPLETED

    account.hollow = [hollow]
    [again] = await queue(store, settings, day(2), day(2))
    task = await settled(store, again)
    assert (task.status, task.attempts) == (TaskStatus.COMPLETED, 2)
    assert "without rows or their count" in (task.last_error or "")
    assert await costs(store, day(2), day(2)) == {(day(2), "701"): (10, Decimal("100.00"))}
    events = await store.read(lambda tx: tx.events.read_stream("direct:701"))
    assert len(events) == 1  # never zeroed, so never put back either
