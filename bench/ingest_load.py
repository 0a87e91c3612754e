"""Ingest throughput and latency: N leads posted by C concurrent clients to a real process.

.venv/bin/python bench/ingest_load.py --leads 2000 --clients 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import percentiles  # noqa: E402
from tests.e2e.system import System  # noqa: E402


async def client(http: aiohttp.ClientSession, url: str, jobs: asyncio.Queue, took: list) -> None:
    while True:
        try:
            n = jobs.get_nowait()
        except asyncio.QueueEmpty:
            return
        body = {"phone": f"+7916{n:07d}", "name": "Bench", "campaign_id": f"c{n % 10}"}
        started = time.perf_counter()
        async with http.post(url, json=body) as resp:
            assert resp.status == 200, await resp.text()
        took.append(time.perf_counter() - started)


async def main(leads: int, clients: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        system.config()
        await system.start("ingest")
        jobs: asyncio.Queue = asyncio.Queue()
        for n in range(leads):
            jobs.put_nowait(n)
        took: list[float] = []
        url = f"{system.services['ingest'].url}/api/v1/leads"
        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(client(http, url, jobs, took) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        await system.close()
    print(f"ingest: {leads} leads, {clients} clients, {elapsed:.2f} s")
    print(
        f"  throughput {leads / elapsed:.0f} leads/s"
        " (each answer durable: synchronous=FULL, group commit)"
    )
    print(f"  latency {percentiles(took)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.clients))
