"""A connection full of unmatched payments leaves /healthz as soon as one is dismissed or
attached elsewhere (the dashboard, another process on the same database), without waiting for
its next payment: the real webhooks and dashboard apps on one real database (each backend)."""

from __future__ import annotations

import pytest

from common.config import Settings
from services.dashboard.app import create_app as dashboard_app
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import crm_connections
from tests.integration.test_dashboard_users import log_in
from tests.integration.test_dismissed_payments import PASSWORD, post, won
from tests.integration.test_webhooks import delivered_lead

FULL = "connection amo holds 2 open unmatched payments"


@pytest.fixture
async def dash(aiohttp_client, database):
    settings = Settings(database=database, dashboard={"password": PASSWORD})
    return await aiohttp_client(dashboard_app(settings))


async def capped(aiohttp_client, database: str, cap: int = 2):
    settings = Settings(
        database=database, crm=crm_connections(), webhooks={"max_unmatched_per_connection": cap}
    )
    return await aiohttp_client(webhooks_app(settings))


async def problems(hooks) -> list[str]:
    resp = await hooks.get("/healthz")
    answer = await resp.json()
    assert resp.status == (503 if answer.get("problems") else 200)
    return list(answer.get("problems", []))


async def test_a_payment_dismissed_on_the_dashboard_clears_the_full_line(
    aiohttp_client, database, dash
):
    hooks = await capped(aiohttp_client, database)
    first = await won(hooks, "90000001")
    assert (await won(hooks, "90000002"))["status"] == "unmatched"
    assert (await won(hooks, "90000003"))["status"] == "deferred"
    [line] = await problems(hooks)
    assert FULL in line
    assert [FULL in line for line in await problems(hooks)] == [True]  # asked again: still full

    await log_in(dash, "admin", PASSWORD)
    done = await post(dash, first["unmatched_payment_id"], "dismiss", reason="demo data")
    assert done.status == 200
    assert await problems(hooks) == []  # no new payment came: /healthz counted again
    assert (await won(hooks, "90000004"))["status"] == "unmatched"  # the room is real
    assert await problems(hooks) == []
    assert (await won(hooks, "90000005"))["status"] == "deferred"  # full once more
    assert [FULL in line for line in await problems(hooks)] == [True]


async def test_a_connection_full_at_start_clears_when_one_is_attached(
    aiohttp_client, database, store
):
    for ref in ("1", "2", "3"):  # over the cap already (the cap was lowered, say)
        await store.write(lambda tx, ref=ref: tx.unmatched.keep("amo", ref, "1", "RUB", "2026"))
    hooks = await capped(aiohttp_client, database)
    assert [FULL in line for line in await problems(hooks)] == [True]
    lead_id = await delivered_lead(store, "amo", "30000001")
    [one, two, _] = await store.read(lambda tx: tx.unmatched.open())
    await store.write(lambda tx: tx.unmatched.attach(one.id, lead_id))
    assert [FULL in line for line in await problems(hooks)] == [True]  # 2 open: the cap
    await store.write(lambda tx: tx.unmatched.dismiss(two.id, "a test deal"))
    assert await problems(hooks) == []
