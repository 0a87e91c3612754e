"""Durable ingest against its ceiling, in ONE run on this machine.

1. the ceiling: bench/ceiling.py (aiohttp + pydantic + phonenumbers, stores nothing);
2. the real ingest process (synchronous=FULL, group commit) on a fresh database;
both loaded by wrk (-t1 -c32, a new phone number every request, bench/lead.lua), each
durable round with where the cores went (the ingest process's share shows whether it, not
the machine, is what limits), then
3. ingest at a fixed offered rate (default 1,000 leads/s) for its latency, and
4. its RSS, and `leadrelay verify` over everything it stored.

.venv/bin/python bench/ingest_ceiling.py [--seconds 8] [--rate 1000] [--rounds 3]
Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Cores, batch_line, batching, percentiles, quiet_collector  # noqa: E402
from tests.e2e.system import System  # noqa: E402
from tests.helpers import free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
LEAD = {
    "name": "Иван Петров",
    "email": "ivan@example.ru",
    "comment": "Перезвоните после обеда",
    "campaign_id": "spring-sale",
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "spring",
    "page_url": "https://landing.example.ru/?utm_source=yandex",
}


_RUNS = itertools.count(1)


def wrk(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and non-2xx answers. Each run's phone numbers and e-mails start
    a million past the last run's: every request is a new lead, never a repeat."""
    base = str(next(_RUNS) * 1_000_000)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(HERE / "lead.lua")]
        + [url, "--", base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if errors:
        print("   ", errors.group(0))
    return rate, int(bad.group(1)) if bad else 0


async def wait_up(url: str) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.post(url, data=b"{}") as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.05)  # polling for start-up, bounded by the deadline


async def offered_load(url: str, rate: int, seconds: float) -> tuple[list[float], int]:
    """Open loop: a request every 1/rate s whatever the answers; latencies and non-2xx."""
    took: list[float] = []
    bad = 0

    async def one(http: aiohttp.ClientSession, n: int) -> None:
        nonlocal bad
        body = LEAD | {"phone": f"+7926{n:07d}", "yclid": f"9{n}"}
        started = time.perf_counter()
        async with http.post(url, json=body) as resp:
            await resp.read()
            bad += resp.status != 200
        took.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=200)
    with quiet_collector():  # the client's own pauses are not the server's latency
        async with aiohttp.ClientSession(connector=connector) as http:
            pending = set()
            start = time.perf_counter()
            total = int(rate * seconds)
            for n in range(total):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the offered load, not synchronisation
                pending.add(asyncio.create_task(one(http, n)))
                pending = {t for t in pending if not t.done()}
            await asyncio.gather(*pending)
    return took, bad


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident set
            return int(line.split()[1]) / 1024
    return 0.0


async def main(seconds: int, rate: int, connections: int, rounds: int) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    port = free_port()
    ceiling_proc = subprocess.Popen([sys.executable, str(HERE / "ceiling.py"), str(port)])
    ceiling_url = f"http://127.0.0.1:{port}/api/v1/leads"
    ratios, bad = [], 0
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        system.config()
        await system.start("ingest")
        ingest = system.services["ingest"]
        url = f"{ingest.url}/api/v1/leads"
        try:
            await wait_up(ceiling_url)
            # Alternate the two, so a change in the machine's load hits both alike.
            for n in range(rounds):
                ceiling, ceiling_bad = wrk(ceiling_url, seconds, connections)
                before = await batching(ingest.url)
                cores = Cores(ingest.proc.pid)
                cores.start()
                durable, durable_bad = wrk(url, seconds, connections)
                cores.stop()
                batches = batch_line(before, await batching(ingest.url))
                ratios.append(durable / ceiling)
                bad += ceiling_bad + durable_bad
                print(
                    f"round {n + 1}: ceiling {ceiling:,.0f} leads/s,"
                    f" durable ingest {durable:,.0f} leads/s: {durable / ceiling:.2f} x ({batches})"
                )
                print("   ", cores.line("ingest", "wrk and the rest"))
        finally:
            ceiling_proc.terminate()
            ceiling_proc.wait()
        took, offered_bad = await offered_load(url, rate, seconds)
        rss = rss_mb(ingest.proc.pid)
        verify = system.cli("verify").stdout.strip()
        await system.close()

    print(
        f"ratio, median of {rounds}: {statistics.median(ratios):.2f} x the ceiling"
        f" (aiohttp + pydantic + E.164 + email check, no storage); non-2xx {bad}"
    )
    print(
        f"ingest at {rate} leads/s offered for {seconds} s: {percentiles(took)},"
        f" non-2xx {offered_bad}"
    )
    print(f"ingest peak RSS: {rss:.0f} MB")
    print(verify)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate, args.connections, args.rounds))
