"""Dispatcher: backlog drain rate, recovery after kill -9, POST→CRM latency, idle CPU, RSS.

.venv/bin/python bench/dispatch.py [--backlog 3000] [--rate 200] [--seconds 10] [--postgres]
                                   [--dispatchers N]

Every phase runs real processes (ingest, dispatcher) against the generic CRM emulator,
with a fresh database each, and ends with `leadrelay verify`. The drain to an instant CRM
is a ratio to its reference measured in the same run (bench/bare_post.py: a bare aiohttp
client on the dispatcher's event loop, uvloop, POSTing the same signed body to a bare aiohttp
server, the same concurrency; the median of three runs, each the backlog's count of
requests); the drain to a 50 ms CRM a ratio to the bound concurrency / latency, and beside it
what the same bare client gets from a bare server answering in 50 ms (three runs of a third
of the backlog each), which shows how near this machine lets any client come to that bound.
Beside the instant drain it prints the machine's own bound: the deliveries a second if every
core were as busy as in the drain, at the drain's CPU a delivery over all processes (the
dispatcher, the emulated CRM in this process, PostgreSQL's server); no dispatcher on this
machine can pass it without costing less CPU a delivery. --dispatchers N drains to the
instant CRM once more with N dispatcher processes on the same database, the concurrency
shared out among them. --postgres runs the drains and the kill -9 on PostgreSQL
(LEADRELAY_TEST_POSTGRES, or a durable local cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import psycopg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bare_post import bare_app  # noqa: E402
from bench.report import Cores, batch_line, batching, cpu_seconds, percentiles  # noqa: E402
from tests import pg  # noqa: E402
from tests.e2e.system import System  # noqa: E402
from tests.emulators.faults import Faults  # noqa: E402
from tests.helpers import free_port, rows  # noqa: E402

CONCURRENCY = 16


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# Deliveries, as the campaigns' counters have them (written in the transaction of each
# delivery's event, and checked against the events by `verify` after every phase): a row a
# campaign to read, where counting the events read every event each look, 50 looks a second,
# on the machine being measured (on PostgreSQL ~20 us of the server's time a delivery).
SENT = "SELECT coalesce(sum(leads_delivered), 0) FROM campaign_stats"


@contextmanager
def counter(database: str | Path) -> Iterator[Callable[[], int]]:
    """How many leads are delivered, asked on one connection kept open (on PostgreSQL a new
    one per look would start a server process each time, at the measured system's cost)."""
    if str(database).startswith("postgresql"):
        with psycopg.connect(str(database), autocommit=True) as conn:
            yield lambda: int(conn.execute(SENT).fetchone()[0])
        return
    conn = sqlite3.connect(database, check_same_thread=False)
    try:
        yield lambda: int(conn.execute(SENT).fetchone()[0])
    finally:
        conn.close()


def delivery_delays(db: Path) -> list[float]:
    rows = query(
        db,
        "SELECT julianday(s.created_at) - julianday(c.created_at) FROM events c"
        " JOIN events s ON s.stream_id = c.stream_id AND s.type = 'LEAD_SENT_TO_CRM'"
        " WHERE c.type = 'LEAD_CREATED'",
    )
    return sorted(r[0] * 86400 for r in rows)


async def wait_sent(db: str | Path, count: int, timeout: float = 120) -> float:
    """Seconds until `count` leads are delivered."""
    return (await timed_sends(db, count, timeout))[0]


async def timed_sends(db: str | Path, count: int, timeout: float = 120) -> tuple[float, int]:
    """Seconds from now until `count` leads are delivered, and how many of them were delivered
    in those seconds: a dispatcher starts delivering before its /healthz answers, and what it
    delivered before the clock started must not count towards a rate (polled every 20 ms, off
    this process's event loop, which runs the CRM emulator: a look must not hold its answers
    back)."""
    with counter(db) as delivered:
        started = time.monotonic()
        before = await asyncio.to_thread(delivered)
        while (done := await asyncio.to_thread(delivered)) < count:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"only {done} of {count} delivered in {timeout} s")
            await asyncio.sleep(0.02)  # polling the database, bounded by the timeout
        return time.monotonic() - started, done - before


@asynccontextmanager
async def running(admin: str | None = None) -> AsyncIterator[System]:
    """A fresh system; on PostgreSQL (`admin`: the server's URL) a fresh database."""
    with tempfile.TemporaryDirectory() as folder:
        system = System(Path(folder))
        await system.start_emulators()
        system.config(database=pg.fresh_database(admin) if admin else "")
        text = (system.tmp / "leadrelay.toml").read_text()
        # Production defaults for the dispatcher, and a CRM allowance that is not the limit.
        text = text.replace("poll_interval = 0.05\n", "")
        text = text.replace("lease_seconds = 2\n", "")
        text = text.replace("request_timeout = 2\n", "")
        text = text.replace('secret = "whsec_', 'rate_limit = 100000\nsecret = "whsec_')
        (system.tmp / "leadrelay.toml").write_text(text)
        try:
            yield system
            print("   ", system.cli("verify").stdout.strip())
        finally:
            await system.close()


async def post(system: System, count: int, rate: float | None = None, first: int = 0) -> None:
    url = f"{system.services['ingest'].url}/api/v1/leads"
    started = time.perf_counter()

    async def one(http: aiohttp.ClientSession, n: int) -> None:
        body = {"phone": f"+7916{n:07d}", "campaign_id": "shop-campaign", "yclid": str(n)}
        async with http.post(url, json=body) as resp:
            assert resp.status == 200, await resp.text()

    async with aiohttp.ClientSession() as http:
        tasks = []
        for n in range(first, first + count):
            if rate:
                delay = started + (n - first) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the offered load
            tasks.append(asyncio.create_task(one(http, n)))
            if not rate and len(tasks) >= 32:
                await asyncio.gather(*tasks)
                tasks = []
        await asyncio.gather(*tasks)


async def reference(count: int, latency: float = 0.0) -> list[float]:
    """Requests/s of bench/bare_post.py to a bare server in this process answering after
    `latency`, three runs (one takes well under a second, so a moment of another process's
    load moves it by half)."""
    runner = web.AppRunner(bare_app(latency), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        return [await bare_post(f"http://127.0.0.1:{port}/leads", count) for _ in range(3)]
    finally:
        await runner.cleanup()


async def bare_post(url: str, count: int) -> float:
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("bare_post.py")),
        url,
        str(count),
        str(CONCURRENCY),
        stdout=subprocess.PIPE,
    )
    out, _ = await client.communicate()
    return float(out)


async def drain(backlog: int, latency: float, admin: str | None, dispatchers: int = 1) -> None:
    """Deliver a backlog; with `dispatchers` > 1, that many processes on the one database (as a
    successor runs beside a live one), the concurrency shared out so the total stays the
    reference's."""
    async with running(admin) as system:
        system.shop.faults = Faults(delay=latency)
        if dispatchers > 1:
            each = f"concurrency = {CONCURRENCY // dispatchers}"
            config = system.tmp / "leadrelay.toml"
            config.write_text(config.read_text().replace(f"concurrency = {CONCURRENCY}", each))
        await system.start("ingest")
        await post(system, backlog)
        starting = (system.start_instance("dispatcher", n) for n in range(1, dispatchers))
        _, others = await asyncio.gather(system.start("dispatcher"), asyncio.gather(*starting))
        first = system.services["dispatcher"]
        cores = Cores(*(service.proc.pid for service in [first, *others]))
        cores.start()
        took, counted = await timed_sends(system.database, backlog)
        cores.stop()
        cpu = cores.process_seconds / counted  # travels better than the ratio
        rate = counted / took
        totals = await batching(first.url)  # since it started
        batches = batch_line(dict.fromkeys(totals, 0.0), totals)
        line = f"drain {backlog} leads, CRM answering in {latency * 1000:.0f} ms: {rate:,.0f}/s"
        line += f" over the last {counted}"
        whose, batched = "the dispatcher's", batches
        if dispatchers > 1:
            line += f" by {dispatchers} dispatchers"
            whose, batched = "the dispatchers'", f"the first's {batches}"
        line += f" ({cpu * 1e6:.0f} us of {whose} CPU a delivery; {batched})"
        beside = ""  # a line under the drain's: the reference's own view of this machine
        if latency:
            most = CONCURRENCY / latency
            line += f" = {rate / most:.2f} x concurrency/latency ({most:.0f}/s)"
            # What bare code gets against the same delay on this machine: the bound counts
            # none of a request's own time, nor the machine's waking for each answer.
            bare = statistics.median(await reference(backlog // 3, latency))
            beside = (
                f"    a bare aiohttp client to a bare server answering in {latency * 1000:.0f} ms:"
                f" {bare:,.0f}/s = {bare / most:.2f} x the bound; this drain {rate / bare:.2f} x it"
            )
        else:
            runs = await reference(backlog)
            bare = statistics.median(runs)
            line += f" = {rate / bare:.2f} x a bare aiohttp client to a bare server ({bare:,.0f}/s,"
            line += f" the median of {', '.join(f'{run:,.0f}' for run in runs)})"
            machine = cores.bound(rate)
            beside = (
                f"    the machine's bound, every core at this run's CPU a delivery (dispatcher,"
                f" emulated CRM, the rest): {machine:,.0f}/s = {machine / bare:.2f} x"
            )
        print(line)
        print("   ", cores.line("dispatchers" if dispatchers > 1 else "the dispatcher"))
        if beside:
            print(beside)


async def kill_and_recover(admin: str | None) -> None:
    async with running(admin) as system:
        system.shop.faults = Faults(delay=1.0)  # every delivery is in flight for a second
        await system.start("ingest")
        await post(system, 40)
        await system.start("dispatcher")
        await asyncio.sleep(0.5)  # deliveries are now under way (measured, not awaited)
        held = rows(system.database, "SELECT count(*) AS n FROM tasks WHERE status = 'processing'")
        # The CRM emulator's requests from the killed dispatcher end with a reset connection,
        # which aiohttp's server logs with a traceback: expected here, not a failure.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        system.services["dispatcher"].kill()
        killed = time.monotonic()
        system.shop.faults = Faults()
        await system.start("dispatcher")
        await wait_sent(system.database, 40)
        print(
            f"kill -9 with {held[0]['n']} deliveries in flight: all delivered by the successor"
            f" {time.monotonic() - killed:.1f} s after the kill"
        )


async def latency(rate: int, seconds: float, idle: float) -> None:
    async with running() as system:
        await system.start("ingest", "dispatcher")
        dispatcher = system.services["dispatcher"].proc.pid
        ingest = system.services["ingest"].proc.pid
        before, clock = cpu_seconds(dispatcher), time.monotonic()
        await asyncio.sleep(idle)  # measuring an idle period, not waiting for a result
        idle_cpu = (cpu_seconds(dispatcher) - before) / (time.monotonic() - clock)
        count = int(rate * seconds)
        await post(system, count, rate=rate)
        await wait_sent(system.db_path, count)
        print(f"idle dispatcher: {idle_cpu * 100:.2f}% of one core over {idle:.0f} s")
        print(
            f"POST -> LEAD_SENT_TO_CRM at {rate} leads/s offered:"
            f" {percentiles(delivery_delays(system.db_path))}"
        )
        print(
            f"peak RSS: ingest {peak_rss_mb(ingest):.0f} MB,"
            f" dispatcher {peak_rss_mb(dispatcher):.0f} MB"
        )


@contextmanager
def backend(postgres: bool) -> Iterator[str | None]:
    """None for SQLite; else the URL of a PostgreSQL server's maintenance database."""
    if not postgres:
        yield None
        return
    with pg.server(durable=True) as admin:
        yield admin


async def main(args: argparse.Namespace) -> None:
    with backend(args.postgres) as admin:
        print("PostgreSQL" if admin else "SQLite")
        await drain(args.backlog, 0.0, admin)
        await drain(args.backlog, 0.05, admin)
        if args.dispatchers > 1:
            await drain(args.backlog, 0.0, admin, args.dispatchers)
        await kill_and_recover(admin)
        if admin is None:  # its delays are read with SQLite's julianday()
            await latency(args.rate, args.seconds, args.idle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=float, default=10)
    parser.add_argument("--postgres", action="store_true", help="drains and kill -9 on PostgreSQL")
    parser.add_argument(
        "--dispatchers", type=int, default=1, help="also drain with this many dispatcher processes"
    )
    asyncio.run(main(parser.parse_args()))
