"""`python -m demo.traffic`: leads to several campaigns, then won deals reported by each CRM.

Bounded: it posts --leads leads (default 150) over about a minute and pays about a third
of them, then waits (doing nothing) until Ctrl-C or SIGTERM: honcho stops every process
when one exits, and the dashboard must stay up for the person who ran `make demo`. It
talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
from urllib.parse import urlencode

import aiohttp

from common.signing import signed_headers

INGEST = "http://127.0.0.1:8081"
WEBHOOKS = "http://127.0.0.1:8082/api/v1/webhooks/crm"
DASHBOARD = "http://127.0.0.1:8083/api/v1/leads"
B24_DEALS = "http://127.0.0.1:9102/_deals"
API = {"Authorization": "Bearer demo-api-token"}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CAMPAIGNS = ["spring-sale", "shop-landing", "winter-tires", "brand-search", "retargeting"]
NAMES = ["Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Илья", "Ксения", "Лев"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def wait_until_up(http: aiohttp.ClientSession, ingest: str) -> None:
    for _ in range(300):  # up to a minute, while honcho starts the others
        try:
            async with http.get(f"{ingest}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("ingest did not start")


async def post_leads(
    http: aiohttp.ClientSession, ingest: str, count: int, rng: random.Random
) -> None:
    for _ in range(count):
        campaign = rng.choice(CAMPAIGNS)
        lead = {
            "name": rng.choice(NAMES),
            "phone": f"+7916{rng.randrange(10**7):07d}",
            "campaign_id": campaign,
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "page_url": f"https://landing.example.ru/{campaign}?yclid={rng.randrange(10**12)}",
        }
        async with http.post(f"{ingest}/api/v1/leads", json=lead) as resp:
            await resp.read()
        await asyncio.sleep(rng.uniform(0.1, 0.6))


async def pay(http: aiohttp.ClientSession, lead: dict, rng: random.Random) -> None:
    """Report a won deal the way the lead's CRM would."""
    price = f"{rng.randrange(1, 60) * 500}"
    connection, crm_id = lead["crm_connection"], lead["crm_lead_id"]
    if connection == "amo":
        body = urlencode(
            {
                "leads[status][0][id]": crm_id,
                "leads[status][0][status_id]": "142",
                "leads[status][0][price]": price,
            }
        )
        url, data, headers = f"{WEBHOOKS}/amo?token=demo-hook-token", body, FORM
    elif connection == "b24":
        deal_id = str(rng.randrange(10**6))
        deal = {
            "ID": deal_id,
            "STAGE_SEMANTIC_ID": "S",
            "OPPORTUNITY": price,
            "CURRENCY_ID": "RUB",
            "LEAD_ID": crm_id,
        }
        async with http.post(B24_DEALS, json=deal) as resp:
            await resp.read()
        data = urlencode(
            {
                "event": "ONCRMDEALUPDATE",
                "data[FIELDS][ID]": deal_id,
                "auth[application_token]": "demo-b24-token",
            }
        )
        url, headers = f"{WEBHOOKS}/b24", FORM
    else:
        data = json.dumps(
            {"type": "payment", "lead_id": lead["id"], "amount": price, "currency": "RUB"}
        ).encode()
        headers = signed_headers(SECRET, f"demo-{lead['id']}", data)
        url = f"{WEBHOOKS}/shop"
    async with http.post(url, data=data, headers=headers) as resp:
        await resp.read()


async def pay_some(http: aiohttp.ClientSession, rounds: int, rng: random.Random) -> None:
    seen: set[str] = set()  # each lead is decided once: about a third end up paid
    for _ in range(rounds):
        await asyncio.sleep(3)
        async with http.get(
            DASHBOARD, params={"status": "sent_to_crm", "limit": 100}, headers=API
        ) as resp:
            leads = (await resp.json()).get("leads", []) if resp.status == 200 else []
        for lead in leads:
            if lead["id"] in seen:
                continue
            seen.add(lead["id"])
            if rng.random() < 0.35:
                await pay(http, lead, rng)


async def main(count: int, rounds: int, ingest: str) -> None:
    rng = random.Random()
    async with aiohttp.ClientSession() as http:
        await wait_until_up(http, ingest)
        print(READY, flush=True)
        await asyncio.gather(post_leads(http, ingest, count, rng), pay_some(http, rounds, rng))
    print(f"demo traffic done: {count} leads posted. {STAYING}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()  # until the person is done looking


READY = "demo is up: open http://127.0.0.1:8083/admin and log in as admin / demo"
STAYING = "Everything keeps running until Ctrl-C."

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=150)
    parser.add_argument("--payment-rounds", type=int, default=30, help="3 s apart")
    parser.add_argument("--ingest", default=INGEST, help="ingest's base URL")
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.payment_rounds, args.ingest))
