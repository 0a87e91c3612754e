"""`python -m demo.traffic`: leads to several campaigns, then won deals reported by each CRM.

Bounded: it posts --leads leads (default 150) over about a minute and pays about a third
of them, then waits (doing nothing) until Ctrl-C or SIGTERM: honcho stops every process
when one exits, and the dashboard must stay up for the person who ran `make demo`. Where it
posts, and the tokens and secrets it signs with, come from the leadrelay configuration the
demo runs on (demo/config.py); it talks only to this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
from urllib.parse import urlencode

import aiohttp

from common.config import AmoCrmConnection, Bitrix24Connection, Settings, load_settings
from common.signing import signed_headers
from demo.config import Targets, origin, targets

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


async def pay(
    http: aiohttp.ClientSession, settings: Settings, lead: dict, rng: random.Random
) -> None:
    """Report a won deal the way the lead's CRM would."""
    price = f"{rng.randrange(1, 60) * 500}"
    name, crm_id = lead["crm_connection"], lead["crm_lead_id"]
    connection, webhooks = settings.crm[name], f"{targets(settings).webhooks}/{name}"
    if isinstance(connection, AmoCrmConnection):
        body = urlencode(
            {
                "leads[status][0][id]": crm_id,
                "leads[status][0][status_id]": "142",
                "leads[status][0][price]": price,
            }
        )
        token = connection.webhook_token.get_secret_value()
        url, data, headers = f"{webhooks}?token={token}", body, FORM
    elif isinstance(connection, Bitrix24Connection):
        deal_id = str(rng.randrange(10**6))
        deal = {
            "ID": deal_id,
            "STAGE_SEMANTIC_ID": "S",
            "OPPORTUNITY": price,
            "CURRENCY_ID": "RUB",
            "LEAD_ID": crm_id,
        }
        # The emulator's own route for making a deal, beside the REST path it serves.
        async with http.post(f"{origin(str(connection.base_url))}/_deals", json=deal) as resp:
            await resp.read()
        data = urlencode(
            {
                "event": "ONCRMDEALUPDATE",
                "data[FIELDS][ID]": deal_id,
                "auth[application_token]": connection.application_token.get_secret_value(),
            }
        )
        url, headers = webhooks, FORM
    else:  # generic: a Standard Webhooks payment, signed with its secret
        data = json.dumps(
            {"type": "payment", "lead_id": lead["id"], "amount": price, "currency": "RUB"}
        ).encode()
        headers = signed_headers(connection.secret.get_secret_value(), f"demo-{lead['id']}", data)
        url = webhooks
    async with http.post(url, data=data, headers=headers) as resp:
        await resp.read()


async def pay_some(
    http: aiohttp.ClientSession, settings: Settings, rounds: int, rng: random.Random
) -> None:
    seen: set[str] = set()  # each lead is decided once: about a third end up paid
    to: Targets = targets(settings)
    api = {"Authorization": f"Bearer {to.api_token}"}
    for _ in range(rounds if to.api_token else 0):  # the leads are read with the API token
        await asyncio.sleep(3)
        async with http.get(
            to.leads_api, params={"status": "sent_to_crm", "limit": 100}, headers=api
        ) as resp:
            leads = (await resp.json()).get("leads", []) if resp.status == 200 else []
        for lead in leads:
            if lead["id"] in seen or lead["crm_connection"] not in settings.crm:
                continue
            seen.add(lead["id"])
            if rng.random() < 0.35:
                await pay(http, settings, lead, rng)


async def traffic(settings: Settings, count: int, rounds: int) -> None:
    ingest = targets(settings).ingest
    rng = random.Random()
    async with aiohttp.ClientSession() as http:
        await wait_until_up(http, ingest)
        print(f"demo traffic: posting {count} leads to {ingest}", flush=True)
        try:
            await asyncio.gather(
                post_leads(http, ingest, count, rng), pay_some(http, settings, rounds, rng)
            )
        except aiohttp.ClientError as error:  # a service went away: the rest stays up
            print(f"demo traffic stopped early: {error!r}. {STAYING}", flush=True)
            return
    print(f"demo traffic done: {count} leads posted. {STAYING}", flush=True)


async def main(count: int, rounds: int) -> None:
    """The traffic, then nothing until the person is done looking: SIGINT or SIGTERM ends
    either at once, with exit code 0."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    running = asyncio.create_task(traffic(load_settings(), count, rounds))
    await stop.wait()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


STAYING = "Everything keeps running until Ctrl-C."

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=150)
    parser.add_argument("--payment-rounds", type=int, default=30, help="3 s apart")
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.payment_rounds))
