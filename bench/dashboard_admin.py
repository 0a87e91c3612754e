"""/admin on a large history: builds 1,000,000 leads and 3,000,000 events, then times pages.

    .venv/bin/python bench/dashboard_admin.py               # build (≈2 min) and measure
    .venv/bin/python bench/dashboard_admin.py --reuse       # measure an existing build again

    .venv/bin/python bench/dashboard_admin.py --utm --periods-only --db /tmp/x.db
                                                            # /admin per period, UTM values

The dashboard runs as a real process; each page is fetched after login, 30 times. First
/admin for each of the overview's periods, as a ratio to its 30-day view in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import percentiles  # noqa: E402
from common.config import DashboardSettings  # noqa: E402
from common.contacts import fold  # noqa: E402
from common.days import day_of, today  # noqa: E402
from common.store import migrations  # noqa: E402
from common.store.sqlite.migrate import migrate  # noqa: E402
from services.dashboard.queries import PRESETS  # noqa: E402
from tests.helpers import free_port  # noqa: E402

CAMPAIGNS = [f"campaign-{n:02d}" for n in range(20)]
FIRST = ["Иван", "Ольга", "Пётр", "Анна", "Сергей", "Мария", "Дмитрий", "Елена"]
LAST = ["Петров", "Смирнова", "Иванов", "Кузнецова", "Попов", "Соколова", "Лебедев"]
START = datetime.now(UTC) - timedelta(days=365)
# The first migration that counts from the leads stored before it: the build stores the leads
# at the migration before it, then migrates on, as an upgrade of a database this size does.
COUNTED = next(m.number for m in migrations.migrations("sqlite") if m.name.endswith("utm_stats"))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(path: Path, leads: int, utm: bool = False) -> None:
    """Rows shaped as the projectors write them, inserted in bulk (not through the services);
    with bench/reports_utm.py's UTM values when asked. One paid lead in forty is paid in
    euros, so the overview tells currencies apart."""
    path.unlink(missing_ok=True)
    migrate(path, upto=COUNTED - 1)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    # daily_stats counts days in the zone the dashboard will run with (the default one).
    zone = DashboardSettings().zone
    conn.create_function("local_day", 1, lambda t: day_of(t, zone).isoformat(), deterministic=True)
    conn.execute("BEGIN")
    rng = random.Random(7)
    position = 0
    step = timedelta(seconds=365 * 86400 / leads)
    for chunk in range(0, leads, 50_000):
        events, lead_rows, tasks = [], [], []
        for n in range(chunk, min(chunk + 50_000, leads)):
            lead_id = str(uuid.UUID(int=rng.getrandbits(128)))
            created = START + step * n
            campaign = CAMPAIGNS[n % len(CAMPAIGNS)]
            stamps = [iso(created + timedelta(seconds=s)) for s in (0, 1, 3600, 3700)]
            name = f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]}"
            # Half the leads have an e-mail, some of them typed with capitals.
            email = None if n % 2 == 0 else f"client{n}@example.ru"
            if n % 4 == 1:
                email = f"Client{n}@Example.ru"
            data = {"campaign_id": campaign, "name": name, "phone": f"+7916{n % 10**7:07d}"}
            if email:
                data["email"] = email
            kinds = [
                ("LEAD_CREATED", data),
                ("LEAD_SENT_TO_CRM", {"connection": "amo", "crm_lead_id": str(n)}),
            ]
            status, amount, paid_at, conversion = "sent_to_crm", None, None, None
            currency = "EUR" if n % 80 == 0 else "RUB"
            if n % 2 == 0:  # half of the leads are paid and uploaded: 4 events each
                amount, paid_at, status, conversion = "1500.00", stamps[2], "paid", "uploaded"
                sale = {"amount": amount, "currency": currency, "paid_at": paid_at}
                kinds += [
                    ("PAYMENT_REGISTERED", sale | {"source": "amo"}),
                    ("YANDEX_DIRECT_CONVERSION", {"upload_id": "1"}),
                ]
            for version, (kind, body) in enumerate(kinds, start=1):
                position += 1
                events.append(
                    (position, lead_id, version, kind, json.dumps(body), "{}", stamps[version - 1])
                )
            lead_rows.append(
                (
                    lead_id,
                    campaign,
                    status,
                    name,
                    data["phone"],
                    email,
                    fold(email),
                    fold(name),
                    "1",
                    str(n),
                    amount,
                    currency if amount else None,
                    paid_at,
                    conversion,
                    stamps[0],
                    stamps[len(kinds) - 1],
                    len(kinds),
                )
            )
            tasks.append(
                (
                    "send_to_crm",
                    json.dumps({"lead_id": lead_id}),
                    "completed",
                    1,
                    10,
                    stamps[0],
                    stamps[0],
                    stamps[1],
                )
            )
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        conn.executemany(
            "INSERT INTO leads (id, campaign_id, status, name, phone, email, email_key, name_key,"
            " crm_connection, crm_lead_id, payment_amount, payment_currency, paid_at,"
            " conversion_status, created_at, updated_at, version)"
            " VALUES (?,?,?,?,?,?,?,?,'amo',?,?,?,?,?,?,?,?)",
            [r[:8] + r[9:] for r in lead_rows],
        )
        conn.executemany(
            "INSERT INTO tasks (type, payload, status, attempts, max_attempts, run_after,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            tasks,
        )
        print(f"  {min(chunk + 50_000, leads):>9} leads, {position:>9} events", flush=True)
    conn.execute(
        "INSERT INTO campaign_stats (campaign_id, leads, leads_delivered, delivery_failed,"
        " payments, revenue_minor, lost, conversions_uploaded)"
        " SELECT campaign_id, count(*), count(*), 0,"
        " sum(status = 'paid'), sum(CASE WHEN status = 'paid' THEN 150000 ELSE 0 END), 0,"
        " sum(coalesce(conversion_status = 'uploaded', 0)) FROM leads GROUP BY campaign_id"
    )
    conn.execute(
        "INSERT INTO daily_stats (day, campaign_id, leads, payments, revenue_minor)"
        " SELECT local_day(created_at), campaign_id, count(*),"
        " sum(status = 'paid'), sum(CASE WHEN status = 'paid' THEN 150000 ELSE 0 END)"
        " FROM leads GROUP BY 1, 2"
    )
    conn.execute("COMMIT")
    conn.close()
    if utm:
        from bench.reports_utm import add_utm  # it builds on this module's leads

        add_utm(path)
    count_sources(path)
    started = time.perf_counter()
    migrate(path)  # utm_stats (0020) and the rollups of 0025 filled from the leads
    print(f"migrations {COUNTED:04d} on in {time.perf_counter() - started:.1f} s")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ANALYZE")
    conn.close()


def count_sources(path: Path) -> None:
    """source_stats as migration 0018 left it (0025 splits its sales by currency): the leads
    by the local day they came, the sales by the local day they were paid, per campaign and
    utm_source ('' for none)."""
    conn = sqlite3.connect(path, isolation_level=None)
    zone = DashboardSettings().zone
    conn.create_function("local_day", 1, lambda t: day_of(t, zone).isoformat(), deterministic=True)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute("DELETE FROM source_stats")
    conn.execute(
        "INSERT INTO source_stats (day, campaign_id, utm_source, leads)"
        " SELECT local_day(created_at), campaign_id, coalesce(utm_source, ''), count(*)"
        " FROM leads GROUP BY 1, 2, 3"
    )
    conn.execute(
        "INSERT INTO source_stats (day, campaign_id, utm_source, payments, revenue_minor)"
        " SELECT local_day(paid_at), campaign_id, coalesce(utm_source, ''), count(*),"
        " sum(CAST(round(CAST(payment_amount AS REAL) * 100) AS INTEGER))"
        " FROM leads WHERE paid_at IS NOT NULL GROUP BY 1, 2, 3"
        " ON CONFLICT (day, campaign_id, utm_source) DO UPDATE SET"
        " payments = source_stats.payments + excluded.payments,"
        " revenue_minor = source_stats.revenue_minor + excluded.revenue_minor"
    )
    conn.execute("COMMIT")
    conn.close()


@asynccontextmanager
async def logged_in(path: Path) -> AsyncIterator[tuple[aiohttp.ClientSession, str, int]]:
    """The dashboard on `path` as a real process, and a session logged in to it: (the
    session, its base URL, the process id)."""
    port = free_port()
    env = os.environ | {
        "LEADRELAY_DATABASE": str(path),
        "LEADRELAY_DASHBOARD__PORT": str(port),
        "LEADRELAY_DASHBOARD__PASSWORD": "bench",
        "LEADRELAY_CONFIG": "/dev/null",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.dashboard"], env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # unsafe=True: keep cookies set by an IP-address host (127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    assert time.monotonic() < deadline, "dashboard did not start"
                    await asyncio.sleep(0.1)
            async with http.get(f"{base}/login") as resp:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())[1]
            form = {"username": "admin", "password": "bench", "csrf_token": token}
            async with http.post(f"{base}/login", data=form) as resp:
                assert resp.status == 200
            yield http, base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def timed(http: aiohttp.ClientSession, url: str, runs: int) -> list[float]:
    """Seconds each of `runs` fetches of `url` took (each must answer 200)."""
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        async with http.get(url) as resp:
            await resp.read()
            assert resp.status == 200, url
        took.append(time.perf_counter() - started)
    return took


def periods(zone: ZoneInfo) -> list[tuple[str, dict[str, str]]]:
    """The overview's periods: each preset of the picker, a custom year (charted by week)
    and the longest period, ten years (charted by month)."""
    last = today(zone)

    def ending(days: int) -> dict[str, str]:
        first = last - timedelta(days=days - 1)
        return {"date_from": first.isoformat(), "date_to": last.isoformat()}

    presets = [(f"{p} days" if p.isdigit() else p, {"period": p}) for p in PRESETS]
    return [*presets, ("a year (custom)", ending(365)), ("10 years (custom)", ending(3653))]


async def measure_periods(path: Path, runs: int) -> None:
    """/admin for each period, as a ratio to the 30-day view measured in the same run (the
    issue's bar: within 2x). The periods take turns, so a slow moment of the machine falls
    on all of them alike."""
    shown = periods(DashboardSettings().zone)
    async with logged_in(path) as (http, base, _):
        took: dict[str, list[float]] = {name: [] for name, _ in shown}
        for _ in range(runs):
            for name, query in shown:
                took[name] += await timed(http, f"{base}/admin?{urlencode(query)}", 1)
    month = statistics.median(took["30 days"])
    print(f"  {'/admin period':<18} {'median':>9} {'p95':>9}  vs 30 days")
    for name, seconds in took.items():
        middle, high = statistics.median(seconds), sorted(seconds)[int(len(seconds) * 0.95)]
        print(
            f"  {name:<18} {middle * 1000:6.0f} ms {high * 1000:6.0f} ms  {middle / month:4.2f} x"
        )


async def measure(path: Path, runs: int) -> None:
    async with logged_in(path) as (http, base, pid):
        lead_id = sqlite3.connect(path).execute("SELECT id FROM leads LIMIT 1").fetchone()[0]
        pages = [
            "/admin",
            "/admin/leads",
            "/admin/leads?campaign=campaign-03&status=paid",
            # The search: a whole phone and a whole e-mail through their indexes; a part
            # of a name, of an e-mail or of a phone reads every row for the total.
            "/admin/leads?q=8+(916)+012-34-57",
            "/admin/leads?q=CLIENT123457%40example.ru",
            "/admin/leads?q=петров",
            "/admin/leads?q=петров&campaign=campaign-03",
            "/admin/leads?q=client12345",
            "/admin/leads?q=34567",
            "/admin/leads?q=nobody",
            "/api/v1/leads?q=петров",
            f"/admin/leads/{lead_id}",
            "/admin/tasks",
            "/api/v1/stats",
        ]
        for page in pages:
            print(f"  {page[:48]:<48} {percentiles(await timed(http, base + page, runs))}")
        await export_all(http, base, pid)
        for query in ("campaign=campaign-03", "q=петров", ""):
            await export_xlsx(http, base, pid, query)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def export_all(http: aiohttp.ClientSession, base: str, pid: int) -> None:
    """The CSV of every lead: streamed, so the dashboard's memory should not grow with it."""
    before = peak_rss_mib(pid)
    started, size, lines = time.perf_counter(), 0, 0
    async with http.get(f"{base}/admin/leads.csv") as resp:
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
    took = time.perf_counter() - started
    print(
        f"  /admin/leads.csv: {lines - 1} rows, {size >> 20} MiB in {took:.1f} s;"
        f" dashboard peak RSS {before:.0f} MiB before, {peak_rss_mib(pid):.0f} MiB after"
    )


async def export_xlsx(http: aiohttp.ClientSession, base: str, pid: int, query: str) -> None:
    """An XLSX of a filtered set: written to a temporary file, then streamed."""
    before = peak_rss_mib(pid)
    started, size = time.perf_counter(), 0
    timeout = aiohttp.ClientTimeout(total=1800)  # nothing is sent until the file is whole
    async with http.get(f"{base}/admin/leads.xlsx?{query}", timeout=timeout) as resp:
        assert resp.status == 200
        async for chunk in resp.content.iter_chunked(1 << 16):
            size += len(chunk)
    took = time.perf_counter() - started
    print(
        f"  /admin/leads.xlsx?{query}: {size >> 20} MiB in {took:.1f} s;"
        f" dashboard peak RSS {before:.0f} MiB before, {peak_rss_mib(pid):.0f} MiB after"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("/tmp/leadrelay-bench/big.db"))
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--utm", action="store_true", help="give the leads UTM values (bench/reports_utm.py's)"
    )
    parser.add_argument(
        "--periods-only", action="store_true", help="time /admin per period, nothing else"
    )
    args = parser.parse_args()
    if not args.reuse:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(args.db, args.leads, utm=args.utm)
        print(f"built in {time.perf_counter() - started:.0f} s")
    conn = sqlite3.connect(args.db)
    leads = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    print(f"database: {leads} leads, {events} events, {args.db.stat().st_size >> 20} MiB")
    asyncio.run(measure_periods(args.db, args.runs))
    if not args.periods_only:
        asyncio.run(measure(args.db, args.runs))


if __name__ == "__main__":
    main()
