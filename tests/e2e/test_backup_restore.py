"""Backup and restore with real processes: a backup taken while ingest takes steady traffic
finishes and holds every acknowledged lead; restore is refused while ingest runs, then puts
the backup in place once it stops, and ingest starts again on it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.helpers import rows, wait_for_async

RATE = 40  # leads a second: a busy evening of landing pages, steadily


class Traffic:
    """Leads posted at a steady pace; the id of each one ingest acknowledged, in order."""

    def __init__(self, url: str):
        self.url = url
        self.acked: list[str] = []
        self.done = asyncio.Event()

    async def run(self) -> None:
        started = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            n = 0
            while not self.done.is_set():
                delay = started + n / RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the offered load, not synchronising
                body = {"phone": f"+7916{n:07d}", "campaign_id": "steady"}
                async with http.post(self.url, json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    self.acked.append((await resp.json())["lead_id"])
                n += 1

    async def reach(self, count: int) -> None:
        async def reached() -> bool:
            return len(self.acked) >= count

        await wait_for_async(reached, timeout=60)


def lead_ids(database: Path) -> set[str]:
    return {row["id"] for row in rows(database, "SELECT id FROM leads")}


async def test_a_backup_under_traffic_finishes_and_a_restore_brings_it_back(system, tmp_path):
    system.config()
    await system.start("ingest")
    traffic = Traffic(f"{system.services['ingest'].url}/api/v1/leads")
    load = asyncio.create_task(traffic.run())
    folder = tmp_path / "backups"
    try:
        await traffic.reach(40)
        before = list(traffic.acked)
        done = await asyncio.to_thread(system.cli, "backup", str(folder), "--keep", "3")
        during = len(traffic.acked) - len(before)
        await traffic.reach(len(traffic.acked) + 40)  # more leads after the backup
    finally:
        traffic.done.set()
        await load
    assert done.returncode == 0, done.stderr
    assert during > 0  # ingest kept answering while the copy was made
    [copy] = folder.glob("leadrelay-*.db")
    held = lead_ids(copy)
    assert set(before) <= held <= set(traffic.acked)  # all acknowledged up to its snapshot

    refused = system.cli("restore", str(copy))
    assert refused.returncode == 2 and "stop ingest" in refused.stderr
    assert lead_ids(system.db_path) == set(traffic.acked)

    assert system.services["ingest"].stop() == 0
    restored = system.cli("restore", str(copy))
    assert restored.returncode == 0, restored.stderr
    assert lead_ids(system.db_path) == held
    [kept] = system.db_path.parent.glob("leadrelay.db.replaced-*")
    assert lead_ids(kept) == set(traffic.acked)

    await system.start("ingest")  # on the restored database
    async with aiohttp.ClientSession() as http:
        url = f"{system.services['ingest'].url}/api/v1/leads"
        async with http.post(url, json={"phone": "+79160000001"}) as resp:
            assert resp.status == 200
            new = (await resp.json())["lead_id"]
    assert system.services["ingest"].stop() == 0
    assert lead_ids(system.db_path) == held | {new}
    verify = system.cli("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
