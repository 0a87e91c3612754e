"""A hostile pass over the dashboard's forms: the same unmatched payment attached many times at
once, to one lead and to several, is counted once (each backend)."""

from __future__ import annotations

import asyncio

import pytest

from common.config import Settings
from services.dashboard.app import create_app as dashboard_app
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import crm_connections, rows
from tests.integration.test_dashboard_users import log_in
from tests.integration.test_dismissed_payments import PASSWORD, PAYMENTS, token, won
from tests.integration.test_webhooks import delivered_lead

AT_ONCE = 20


@pytest.fixture
async def dash(aiohttp_client, database):
    return await aiohttp_client(
        dashboard_app(Settings(database=database, dashboard={"password": PASSWORD}))
    )


@pytest.fixture
async def hooks(aiohttp_client, database):
    return await aiohttp_client(webhooks_app(Settings(database=database, crm=crm_connections())))


async def test_one_payment_attached_20_times_at_once_to_two_leads_pays_one(
    dash, hooks, store, database
):
    first = await delivered_lead(store, "amo", "30000001")
    second = await delivered_lead(store, "amo", "30000002")
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    assert (await log_in(dash, "admin", PASSWORD)).status == 302
    csrf = await token(dash)
    url = f"{PAYMENTS}/{payment_id}/attach"

    async def attach(lead_id: str) -> int:
        resp = await dash.post(url, data={"csrf_token": csrf, "lead_id": lead_id})
        return resp.status

    statuses = await asyncio.gather(*(attach(first if n % 2 else second) for n in range(AT_ONCE)))
    assert all(s < 500 for s in statuses), statuses
    paid = rows(database, "SELECT id FROM leads WHERE status = 'paid'")
    assert len(paid) == 1
    registered = rows(database, "SELECT * FROM events WHERE type = 'PAYMENT_REGISTERED'")
    assert len(registered) == 1
    [kept] = rows(database, "SELECT status, lead_id FROM unmatched_payments")
    assert (kept["status"], kept["lead_id"]) == ("attached", paid[0]["id"])
    [stats] = rows(database, "SELECT payments, revenue_minor FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"]) == (1, 120_000)
