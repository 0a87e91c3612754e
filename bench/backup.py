"""`leadrelay backup` under steady traffic: how long it takes, against the stepped backup API.

.venv/bin/python bench/backup.py [--leads 30000] [--rate 50] [--cap 60]

A database of `--leads` leads, a real ingest process taking `--rate` leads/s, and while
that traffic runs: SQLite's online backup in steps of 1,024 pages (what `leadrelay backup`
did before; stopped after `--cap` seconds), then `leadrelay backup` as it is now. Each is
timed idle too. The new copy is checked to hold every lead acknowledged before it began.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.leads import LeadService  # noqa: E402
from common.model import NewLead  # noqa: E402
from common.store import open_store  # noqa: E402
from tests.e2e.system import System  # noqa: E402

BATCH = 500


async def seed(db: Path, leads: int) -> None:
    from zoneinfo import ZoneInfo

    store = await open_store(db, 5.0, zone=ZoneInfo("Europe/Moscow"))
    try:
        for first in range(0, leads, BATCH):

            def unit(tx, first=first):  # type: ignore[no-untyped-def]
                for n in range(first, min(first + BATCH, leads)):
                    lead = NewLead(campaign_id="seed", phone=f"+7915{n:07d}", name=f"Seed {n}")
                    LeadService.create_lead(tx, lead)

            await store.write(unit)
    finally:
        await store.close()


def stepped_backup(db: Path, target: Path, cap: float) -> tuple[float, int, bool]:
    """The old way: backup() in steps of 1,024 pages. (seconds, restarts seen, finished)."""
    started = time.monotonic()
    restarts = 0
    last = -1

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last
        if last != -1 and remaining > last:
            restarts += 1  # the copy went back to the first page
        last = remaining
        if time.monotonic() - started > cap:
            raise TimeoutError

    live = sqlite3.connect(db, timeout=5)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy, pages=1024, progress=progress)
        return time.monotonic() - started, restarts, True
    except (TimeoutError, sqlite3.Error):
        return time.monotonic() - started, restarts, False
    finally:
        copy.close()
        live.close()


def leadrelay_backup(system: System, target: Path) -> str:
    """`leadrelay backup` as a process: its own line (copy and verify timed apart), and the
    wall time of the whole command."""
    started = time.monotonic()
    done = system.cli("backup", str(target))
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    return f"{done.stdout.strip()}; the command {took:.1f} s"


async def traffic(url: str, rate: float, stop: threading.Event, acked: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        n = 0
        started = time.perf_counter()
        while not stop.is_set():
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the offered load
            body = {"phone": f"+7916{n:07d}", "campaign_id": "live"}
            async with http.post(url, json=body) as resp:
                assert resp.status == 200, await resp.text()
                acked.append((await resp.json())["lead_id"])
            n += 1


async def under_traffic(system: System, rate: float, cap: float) -> tuple[Path, list[str]]:
    """Both backups while ingest takes `rate` leads/s; the new copy and the leads
    acknowledged before it began."""
    stop, acked = threading.Event(), []
    url = f"{system.services['ingest'].url}/api/v1/leads"
    load = asyncio.create_task(traffic(url, rate, stop, acked))
    try:
        await asyncio.sleep(2)  # the traffic settles (measured load, not synchronisation)
        seconds, restarts, finished = await asyncio.to_thread(
            stepped_backup, system.db_path, system.tmp / "old.db", cap
        )
        state = "finished" if finished else f"stopped unfinished at the {cap:.0f} s cap"
        print(f"{rate:.0f} leads/s: stepped backup {state} after {seconds:.1f} s", end="")
        print(f" ({restarts} restarts from the first page)")
        before = list(acked)
        target = system.tmp / "new.db"
        line = await asyncio.to_thread(leadrelay_backup, system, target)
        print(f"{rate:.0f} leads/s: {line}; {len(acked) - len(before)} leads taken meanwhile")
    finally:
        stop.set()
        await load
    return target, before


async def main(leads: int, rate: float, cap: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        system.config()
        await seed(system.db_path, leads)
        size = system.db_path.stat().st_size / 2**20
        print(f"database: {leads:,} leads, {size:.0f} MB")
        old = stepped_backup(system.db_path, system.tmp / "old-idle.db", cap)[0]
        print(f"idle: stepped backup {old:.1f} s")
        print(f"idle: {leadrelay_backup(system, system.tmp / 'new-idle.db')}")
        await system.start("ingest")
        try:
            target, before = await under_traffic(system, rate, cap)
        finally:
            await system.close()
        copy = sqlite3.connect(target)
        held = {row[0] for row in copy.execute("SELECT id FROM leads")}
        copy.close()
        missing = [lead for lead in before if lead not in held]
        print(f"the copy holds all {len(before)} leads acknowledged before it began: {not missing}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=30000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--cap", type=float, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.rate, args.cap))
