"""Chaos, bounded and seeded: kill -9 the processes at random moments while leads, payments
and Metrica uploads flow; clients retry as real ones do (the same Idempotency-Key, the same
webhook-id). At the end nothing accepted is lost, no payment is counted twice, no Metrica
row is sent twice, and `verify` is green."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter

import aiohttp

from common.signing import signed_headers
from tests.e2e.test_delivery import statuses
from tests.helpers import SECRET, rows, wait_for_async

SEED = 20261127
LEADS = 120
KILLS = 8


async def until_answered(http: aiohttp.ClientSession, url: str, **kwargs) -> dict:
    """POST until a 200, as a landing page or a CRM retries (the same key each time); after
    a failure, wait for the process to be up again (its /healthz, polled with a deadline)."""
    base = url.split("/api/", 1)[0]

    async def up() -> bool:
        try:
            async with http.get(f"{base}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with http.post(url, **kwargs) as resp:
                if resp.status == 200:
                    return await resp.json()
                assert resp.status in (502, 503), await resp.text()  # never a 4xx or 500 here
        except aiohttp.ClientError:
            pass  # the process is down or was killed mid-answer
        await wait_for_async(up, timeout=30)
    raise AssertionError(f"{url} never answered")


async def test_kill_9_during_leads_payments_and_uploads_loses_and_doubles_nothing(system):
    rng = random.Random(SEED)
    system.config()  # leases of 2 s: a killed dispatcher's tasks come back soon
    names = ("ingest", "webhooks", "dispatcher")
    await system.start(*names)
    accepted: dict[str, str] = {}  # lead id -> its yclid
    decided: set[str] = set()  # delivered leads whose deal is settled: won (paid) or not
    stop = asyncio.Event()

    async def chaos() -> None:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.2))  # when the next crash comes
            victim = rng.choice(names)
            system.services[victim].kill()
            await system.start(victim)
        stop.set()

    async def leads(http: aiohttp.ClientSession) -> None:
        for n in range(LEADS):
            yclid = f"9{n:05d}"
            body = {"phone": f"+7917{n:07d}", "campaign_id": "shop-campaign", "yclid": yclid}
            url = f"{system.services['ingest'].url}/api/v1/leads"
            answer = await until_answered(
                http, url, json=body, headers={"Idempotency-Key": f"chaos-{n}"}
            )
            accepted[answer["lead_id"]] = yclid

    async def payments(http: aiohttp.ClientSession) -> None:
        def undecided() -> list[str]:
            sent = rows(system.db_path, "SELECT id FROM leads WHERE status != 'new'")
            return sorted({row["id"] for row in sent} - decided)

        def finished() -> bool:
            return stop.is_set() and len(decided) >= len(accepted) // 2

        async def work_or_done() -> bool:
            return finished() or bool(undecided())

        while not finished():
            await wait_for_async(work_or_done, timeout=60)  # deals close as leads arrive
            for lead_id in undecided()[:10]:
                decided.add(lead_id)
                if rng.random() < 0.5:
                    continue  # not won
                payment = {
                    "type": "payment",
                    "lead_id": lead_id,
                    "amount": "990",
                    "currency": "RUB",
                }
                raw = json.dumps(payment).encode()
                for _ in range(rng.choice((1, 2))):  # some CRMs send a webhook twice
                    headers = signed_headers(SECRET, f"pay-{lead_id}", raw)
                    headers["Content-Type"] = "application/json"
                    url = f"{system.services['webhooks'].url}/api/v1/webhooks/crm/shop"
                    await until_answered(http, url, data=raw, headers=headers)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(chaos(), leads(http), payments(http))

    won = {
        row["stream_id"]
        for row in rows(
            system.db_path, "SELECT stream_id FROM events WHERE type = 'PAYMENT_REGISTERED'"
        )
    }

    async def settled():
        uploaded = rows(
            system.db_path,
            "SELECT count(*) AS n FROM events WHERE type = 'YANDEX_DIRECT_CONVERSION'",
        )[0]["n"]
        return statuses(system)["new"] == 0 and uploaded == len(won)

    await wait_for_async(settled, timeout=90, interval=0.2)

    # Nothing accepted is lost, and nothing is stored twice.
    stored = [row["id"] for row in rows(system.db_path, "SELECT id FROM leads")]
    assert sorted(stored) == sorted(accepted)
    # Every lead reached the CRM; a redelivery carries the same webhook-id (deduplicable).
    delivered = Counter(d["event"]["lead"]["id"] for d in system.shop.received)
    assert set(delivered) == set(accepted)
    for delivery in system.shop.received:
        assert delivery["webhook_id"] == f"lead.created.{delivery['event']['lead']['id']}"
    # Each payment counted once, however often its webhook came.
    events = rows(system.db_path, "SELECT stream_id FROM events WHERE type = 'PAYMENT_REGISTERED'")
    assert len(events) == len({e["stream_id"] for e in events}) == len(won)
    [stats] = rows(system.db_path, "SELECT payments, revenue_minor FROM campaign_stats")
    assert (stats["payments"], stats["revenue_minor"]) == (len(won), len(won) * 99_000)
    # No Metrica row twice, and every paid lead's row there.
    yclids = [row["Yclid"] for row in system.metrica.received]
    assert len(yclids) == len(set(yclids))
    assert set(yclids) == {accepted[lead_id] for lead_id in won}
    assert won, "the run paid nobody: it proved nothing"
    assert system.cli("verify").returncode == 0
