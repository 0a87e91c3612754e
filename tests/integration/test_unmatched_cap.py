"""A leaked webhook secret cannot grow unmatched payments without bound, nor get the webhook
switched off: past the cap payments are deferred, answered 2xx, and /healthz says so."""

import pytest

from common.config import Settings
from services.webhooks.app import create_app
from tests.helpers import crm_connections, rows
from tests.integration.test_webhooks import amo_form, delivered_lead, post_amo

CAP = 5


@pytest.fixture
async def capped(aiohttp_client, database):
    settings = Settings(
        database=database,
        crm=crm_connections(),
        webhooks={"max_unmatched_per_connection": CAP},
    )
    return await aiohttp_client(create_app(settings))


async def test_past_the_cap_payments_are_deferred_with_2xx_and_health_says_so(capped, store):
    statuses = []
    for n in range(CAP + 20):  # the flood: won deals of no lead of ours
        resp = await post_amo(capped, amo_form((f"9{n:07d}", "142", "100")))
        assert resp.status == 200  # never outside 2xx: amoCRM would switch the webhook off
        statuses.append((await resp.json())["status"])
    assert statuses == ["unmatched"] * CAP + ["deferred"] * 20
    assert len(rows(store.location, "SELECT * FROM unmatched_payments")) == CAP
    deferred = rows(
        store.location, "SELECT * FROM webhook_receipts WHERE outcome = 'deferred' ORDER BY id"
    )
    assert len(deferred) == 20 and "90000024" in deferred[-1]["body"]  # kept for later
    health = await capped.get("/healthz")
    assert health.status == 503 and health.headers["Retry-After"]
    [problem] = (await health.json())["problems"]
    assert "connection amo holds 5 open unmatched payments" in problem
    # A repeat of a payment already kept is still itself, not deferred.
    again = await (await post_amo(capped, amo_form(("90000000", "142", "100")))).json()
    assert again["status"] == "unmatched"
    # A real payment of one of our leads still records.
    lead_id = await delivered_lead(store, "amo", "30000001")
    paid = await (await post_amo(capped, amo_form(("30000001", "142", "15000")))).json()
    assert paid["status"] == "ok" and paid["lead_id"] == lead_id
    [lead] = rows(store.location, "SELECT status FROM leads")
    assert lead["status"] == "paid"


async def test_a_payment_attached_makes_room_and_health_clears(capped, store):
    for n in range(CAP + 1):
        await post_amo(capped, amo_form((f"8{n:07d}", "142", "100")))
    assert (await capped.get("/healthz")).status == 503
    lead_id = await delivered_lead(store, "amo", "30000009")
    [first] = rows(store.location, "SELECT id FROM unmatched_payments ORDER BY id LIMIT 1")
    await store.write(lambda tx: tx.unmatched.attach(first["id"], lead_id))
    answer = await (await post_amo(capped, amo_form(("70000000", "142", "100")))).json()
    assert answer["status"] == "unmatched"
    assert (await capped.get("/healthz")).status == 200


async def test_a_full_connection_says_so_from_the_start(aiohttp_client, database, store):
    for n in range(2):
        await store.write(lambda tx, n=n: tx.unmatched.keep("amo", f"{n}", "1", "RUB", "2026"))
    settings = Settings(
        database=database, crm=crm_connections(), webhooks={"max_unmatched_per_connection": 2}
    )
    hooks = await aiohttp_client(create_app(settings))
    health = await (await hooks.get("/healthz")).json()
    assert any("connection amo holds 2" in problem for problem in health["problems"])
