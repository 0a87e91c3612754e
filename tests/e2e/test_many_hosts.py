"""PostgreSQL with two ingest, two webhooks and three dispatcher processes (as separate
hosts would run them): thousands of leads and payments while dispatchers are killed with
-9 and restarted. Every accepted lead is delivered (a redelivery only under the same
webhook-id, and only for a task whose lease was lost), no payment counts twice, the shared
rate limit holds at the CRM, and `verify` is green."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp

from common.signing import signed_headers
from tests import pg
from tests.e2e.test_chaos import until_answered
from tests.helpers import SECRET, rows, wait_for_async

SEED = 11
LEADS = 2000
CLIENTS = 20  # landing pages posting at once
RATE = 200  # the CRM's requests a second, for all dispatchers together
KILLS = 6


def busiest_second(moments: list[float]) -> int:
    """The most calls that arrived within any one second."""
    moments = sorted(moments)
    most, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_three_dispatchers_on_postgres_under_kill_9(system, postgres_server):
    rng = random.Random(SEED)
    url = pg.fresh_database(postgres_server)
    system.config(database=url, extra="")
    text = (system.tmp / "leadrelay.toml").read_text()
    text = text.replace('secret = "', f'rate_limit = {RATE}\nsecret = "', 1)  # [crm.shop]
    (system.tmp / "leadrelay.toml").write_text(text)
    assert f"rate_limit = {RATE}" in text.split("[crm.shop]")[1].split("[")[0]
    ingests = [await system.start_instance("ingest", n) for n in range(2)]
    hooks = [await system.start_instance("webhooks", n) for n in range(2)]
    for n in range(3):
        await system.start_instance("dispatcher", n)
    accepted: dict[str, str] = {}
    numbers = iter(range(LEADS))

    async def landing_page(http: aiohttp.ClientSession) -> None:
        for n in numbers:
            body = {"phone": f"+7918{n:07d}", "campaign_id": "shop-campaign", "yclid": f"8{n:06d}"}
            target = ingests[n % 2].url + "/api/v1/leads"
            key = {"Idempotency-Key": f"many-{n}"}
            answer = await until_answered(http, target, json=body, headers=key)
            accepted[answer["lead_id"]] = body["yclid"]

    async def chaos() -> None:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 1.5))  # when the next host dies
            victim = f"dispatcher-{rng.randrange(3)}"
            system.services[victim].kill()
            await system.services[victim].start()

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(chaos(), *(landing_page(http) for _ in range(CLIENTS)))

        async def delivered_all():
            left = rows(url, "SELECT count(*) AS n FROM leads WHERE status = 'new'")[0]["n"]
            return left == 0

        await wait_for_async(delivered_all, timeout=120, interval=0.5)

        # Payments for half the leads, each webhook sent to BOTH webhooks processes at once
        # (a CRM retrying through the load balancer): each must count once.
        won = sorted(accepted)[::2]
        for batch in range(0, len(won), 50):
            sends = []
            for lead_id in won[batch : batch + 50]:
                raw = json.dumps(
                    {"type": "payment", "lead_id": lead_id, "amount": "500", "currency": "RUB"}
                ).encode()
                headers = signed_headers(SECRET, f"pay-{lead_id}", raw)
                headers["Content-Type"] = "application/json"
                for hook in hooks:
                    target = f"{hook.url}/api/v1/webhooks/crm/shop"
                    sends.append(until_answered(http, target, data=raw, headers=headers))
            await asyncio.gather(*sends)

    async def uploaded_all():
        found = rows(
            url, "SELECT count(*) AS n FROM events WHERE type = 'YANDEX_DIRECT_CONVERSION'"
        )
        return found[0]["n"] == len(won)

    await wait_for_async(uploaded_all, timeout=120, interval=0.5)

    # Every accepted lead stored once and delivered; a redelivery has the same webhook-id
    # and belongs to a task that was claimed again after a lost lease.
    assert sorted(r["id"] for r in rows(url, "SELECT id FROM leads")) == sorted(accepted)
    deliveries = Counter(d["event"]["lead"]["id"] for d in system.shop.received)
    assert set(deliveries) == set(accepted)
    for delivery in system.shop.received:
        assert delivery["webhook_id"] == f"lead.created.{delivery['event']['lead']['id']}"
    twice = [lead_id for lead_id, count in deliveries.items() if count > 1]
    if twice:
        tasks = rows(
            url,
            "SELECT lead_id, attempts FROM tasks WHERE type = 'send_to_crm' AND lead_id IN"
            f" ({', '.join('?' * len(twice))})",
            tuple(twice),
        )
        assert all(task["attempts"] >= 2 for task in tasks), tasks
    # Each payment counted once although it arrived twice, at two processes at once.
    payments = rows(url, "SELECT stream_id FROM events WHERE type = 'PAYMENT_REGISTERED'")
    assert sorted(p["stream_id"] for p in payments) == won
    [stats] = rows(url, "SELECT payments, revenue_minor FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"]) == (len(won), len(won) * 50_000)
    yclids = [row["Yclid"] for row in system.metrica.received]
    assert len(yclids) == len(set(yclids)) == len(won)
    # The shared bucket spaces calls 1/RATE apart for all three dispatchers together (three
    # private limits would allow 3 × RATE). A process places its reserved turns by when it
    # hears the reservation, so one that hears late (a loaded machine, a successor starting
    # after a kill) can run into the next process's turns: seen once at 1.22 × in a full
    # parallel run; the bound keeps well clear of what private limits would give.
    assert busiest_second([d["at"] for d in system.shop.received]) <= RATE * 1.5
    assert system.cli("verify").returncode == 0
