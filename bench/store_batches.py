"""What a group-commit batch costs the SQLite store by itself: leads accepted through
`Acceptance` (the unit ingest writes) in batches of 1, 4, 16 and 64, no HTTP, the process's
CPU a lead for each size and its ratio to the largest batch's in the same run.

.venv/bin/python bench/store_batches.py [--leads 8000]

What it shows: how much of a lead's store cost is its batch's (BEGIN, COMMIT, the fsync
of the WAL, one statement a table for the batch's rows, one upsert a counter row), so how
much smaller batches cost ingest when few requests wait together.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.config import IngestSettings  # noqa: E402
from common.leads import Acceptance, Submission  # noqa: E402
from common.model import NewLead  # noqa: E402
from common.store import open_store  # noqa: E402
from common.store.sqlite.migrate import migrate  # noqa: E402

SIZES = (1, 4, 16, 64)
ZONE = ZoneInfo("Europe/Moscow")


def acceptance(n: int, rules: IngestSettings) -> Acceptance:
    """A new lead with a phone and e-mail of its own, as the ingest bench sends."""
    lead = NewLead(
        campaign_id="spring-sale",
        phone=f"+7916{n:07d}",
        email=f"buyer{n}@example.ru",
        name="Иван Петров",
        utm_source="yandex",
        utm_medium="cpc",
        utm_campaign="spring",
        page_url="https://landing.example.ru/?utm_source=yandex",
    )
    return Acceptance(Submission(lead, {"request_id": f"bench-{n}"}), rules)


async def cpu_per_lead(database: Path, size: int, leads: int, first: int) -> float:
    """Seconds of this process's CPU a lead, `leads` leads written `size` at a time."""
    store = await open_store(database, 5.0, zone=ZONE)
    rules = IngestSettings()
    try:
        started = time.process_time()
        for start in range(first, first + leads, size):
            batch = [acceptance(n, rules) for n in range(start, start + size)]
            await asyncio.gather(*(store.write(unit) for unit in batch))
        return (time.process_time() - started) / leads
    finally:
        await store.close()


async def main(leads: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.db"
        migrate(database)
        await cpu_per_lead(database, 16, 1024, 0)  # warm: caches, the first pages
        costs = {}
        for n, size in enumerate(SIZES, start=1):
            costs[size] = await cpu_per_lead(database, size, leads, n * 10_000_000)
    base = costs[SIZES[-1]]
    for size, cost in costs.items():
        print(
            f"batches of {size:>2}: {cost * 1e6:4.0f} µs of CPU a lead,"
            f" {cost / base:.2f} x a lead's in batches of {SIZES[-1]}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=8000)
    asyncio.run(main(parser.parse_args().leads))
