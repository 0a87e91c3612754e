"""Dispatcher: time from POST to LEAD_SENT_TO_CRM, and CPU used while the queue is empty.

.venv/bin/python bench/dispatch.py --leads 200 --idle 10
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import percentiles  # noqa: E402
from tests.e2e.system import System  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def delivery_delays(db: Path) -> list[float]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT julianday(s.created_at) - julianday(c.created_at) FROM events c"
        " JOIN events s ON s.stream_id = c.stream_id AND s.type = 'LEAD_SENT_TO_CRM'"
        " WHERE c.type = 'LEAD_CREATED'"
    ).fetchall()
    conn.close()
    return sorted(r[0] * 86400 for r in rows)


async def main(leads: int, idle: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        # The production default poll interval, and a generic CRM with no rate limit to hit.
        system.config(extra="")
        text = (system.tmp / "leadrelay.toml").read_text()
        text = text.replace("poll_interval = 0.05", "poll_interval = 0.2")
        # Measure the dispatcher, not the CRM's allowance (10/s by default for generic).
        text = text.replace('secret = "whsec_', 'rate_limit = 1000\nsecret = "whsec_')
        (system.tmp / "leadrelay.toml").write_text(text)
        await system.start("ingest", "dispatcher")
        pid = system.services["dispatcher"].proc.pid

        before, clock = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(idle)  # measuring an idle period, not waiting for a result
        idle_cpu = (cpu_seconds(pid) - before) / (time.monotonic() - clock)

        url = f"{system.services['ingest'].url}/api/v1/leads"
        async with aiohttp.ClientSession() as http:
            for n in range(leads):
                body = {"phone": f"+7916{n:07d}", "campaign_id": "shop-campaign"}
                async with http.post(url, json=body) as resp:
                    assert resp.status == 200
                await asyncio.sleep(0.01)  # a steady trickle, as real traffic arrives
        deadline = time.monotonic() + 60
        while len(delays := delivery_delays(system.db_path)) < leads:
            assert time.monotonic() < deadline, "deliveries did not finish"
            await asyncio.sleep(0.1)
        await system.close()
    print(f"dispatcher idle for {idle:.0f} s: {idle_cpu * 100:.2f}% of one core")
    print(f"post -> LEAD_SENT_TO_CRM over {leads} leads: {percentiles(delays)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.idle))
