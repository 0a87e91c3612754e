"""The dispatcher's reference: a bare aiohttp client POSTing the body our dispatcher sends
to the generic CRM (a lead.created event, signed per Standard Webhooks) to a bare aiohttp
server that answers at once (or after the same delay as the emulated CRM), `concurrency`
requests at a time, on uvloop as the dispatcher.

bench/dispatch.py starts the server in its own process (as it runs the CRM emulator) and
this client as a process of its own (as the dispatcher is one):

.venv/bin/python bench/bare_post.py URL COUNT CONCURRENCY   # prints requests/s
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.integrations.generic import event_body, message_id  # noqa: E402
from common.model import Lead, LeadStatus  # noqa: E402
from common.signing import Signer  # noqa: E402
from tests.helpers import SECRET  # noqa: E402


def bare_app(latency: float = 0.0) -> web.Application:
    """Reads the body and answers with an id, as a CRM would, `latency` seconds later:
    nothing else."""

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        if latency:
            await asyncio.sleep(latency)  # the CRM's time to answer, as the emulator's delay
        return web.json_response({"id": "ext-1"})

    app = web.Application()
    app.add_routes([web.post("/leads", receive)])
    return app


async def post_all(url: str, count: int, concurrency: int) -> float:
    """Requests per second: `count` signed POSTs, `concurrency` at a time."""
    numbers = iter(range(count))
    signer = Signer(SECRET)  # set up once, as the dispatcher's connection does

    async def worker(http: aiohttp.ClientSession) -> None:
        for n in numbers:
            lead = Lead(
                campaign_id="shop-campaign",
                phone=f"+7916{n:07d}",
                yclid=str(n),
                id=f"bench-{n}",
                status=LeadStatus.NEW,
            )
            body = event_body(lead)
            headers = signer.headers(message_id(lead.id), body)
            headers["Content-Type"] = "application/json"
            async with http.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


if __name__ == "__main__":
    url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The dispatcher's event loop (common.web.serve), so the ratio is fair: on asyncio's own
    # loop this client posted a tenth to an eighth less a second (alternated side by side).
    loop = uvloop.new_event_loop()
    try:
        print(f"{loop.run_until_complete(post_all(url, count, concurrency)):.1f}")
    finally:
        loop.close()
