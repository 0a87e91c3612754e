"""The PostgreSQL backend on this machine, in ONE run: durable ingest against the same
ceiling as bench/ingest_ceiling.py, and dispatcher deliveries/s with 1, 2 and 4 dispatcher
processes draining one backlog to an instant CRM.

.venv/bin/python bench/postgres.py [--seconds 8] [--backlog 3000] [--rounds 1] [--ingest-only]

The server: LEADRELAY_TEST_POSTGRES if set, else a local cluster started for the run with
Debian's postgresql package, durable (fsync and synchronous_commit on, the defaults).
Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dispatch import post  # noqa: E402
from bench.ingest_ceiling import wait_up, wrk  # noqa: E402
from bench.report import Cores, batch_line, batching  # noqa: E402
from tests import pg  # noqa: E402
from tests.e2e.system import System  # noqa: E402
from tests.helpers import free_port, rows  # noqa: E402

HERE = Path(__file__).resolve().parent


def configured(system: System, url: str) -> None:
    """Production defaults for the dispatcher, and a CRM allowance that is not the limit."""
    system.config(database=url)
    text = (system.tmp / "leadrelay.toml").read_text()
    for line in ("poll_interval = 0.05\n", "lease_seconds = 2\n", "request_timeout = 2\n"):
        text = text.replace(line, "")
    text = text.replace('secret = "whsec_', 'rate_limit = 100000\nsecret = "whsec_')
    (system.tmp / "leadrelay.toml").write_text(text)


async def ingest_ratio(admin: str, seconds: int) -> None:
    port = free_port()
    ceiling_proc = subprocess.Popen([sys.executable, str(HERE / "ceiling.py"), str(port)])
    ceiling_url = f"http://127.0.0.1:{port}/api/v1/leads"
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        configured(system, pg.fresh_database(admin))
        await system.start("ingest")
        try:
            await wait_up(ceiling_url)
            ceiling, _ = wrk(ceiling_url, seconds, 32)
            ingest = system.services["ingest"]
            before = await batching(ingest.url)
            cores = Cores(ingest.proc.pid)
            cores.start()
            durable, bad = wrk(f"{ingest.url}/api/v1/leads", seconds, 32)
            cores.stop()
            print(
                f"ingest on PostgreSQL: {durable:,.0f} leads/s against a ceiling of"
                f" {ceiling:,.0f}: {durable / ceiling:.2f} x; non-2xx {bad}"
                f" ({batch_line(before, await batching(ingest.url))})"
            )
            print("   ", cores.line("ingest", "wrk and PostgreSQL's server"))
            print("   ", system.cli("verify").stdout.strip())
        finally:
            ceiling_proc.terminate()
            ceiling_proc.wait()
            await system.close()


async def drain(admin: str, backlog: int, dispatchers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        url = pg.fresh_database(admin)
        configured(system, url)
        await system.start("ingest")
        try:
            await post(system, backlog)
            started = time.monotonic()
            for n in range(dispatchers):
                await system.start_instance("dispatcher", n)
            while True:
                done = rows(url, "SELECT count(*) AS n FROM leads WHERE status = 'sent_to_crm'")
                if done[0]["n"] >= backlog:
                    break
                await asyncio.sleep(0.05)  # polling the database
            took = time.monotonic() - started
            print(
                f"drain {backlog} leads with {dispatchers} dispatcher(s):"
                f" {backlog / took:,.0f} deliveries/s"
            )
        finally:
            await system.close()


async def main(seconds: int, backlog: int, rounds: int, ingest_only: bool) -> None:
    with pg.server(durable=True) as admin:
        for _ in range(rounds):
            await ingest_ratio(admin, seconds)
        for dispatchers in () if ingest_only else (1, 2, 4):
            await drain(admin, backlog, dispatchers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=1, help="ingest measurements, each alone")
    parser.add_argument("--ingest-only", action="store_true", help="no dispatcher drains")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.backlog, args.rounds, args.ingest_only))
