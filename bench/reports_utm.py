"""The reports on a large history: /admin, each level of the UTM report and the per-day table
timed in the same run, each as a ratio to /admin for the same period.

    .venv/bin/python bench/reports_utm.py           # build 1,000,000 leads (≈3 min) and measure
    .venv/bin/python bench/reports_utm.py --reuse   # measure an existing build again

The leads are bench/dashboard_admin.py's, with UTM values added: ten sources (one lead in ten
without any), four media, the campaign's name as utm_campaign, twelve contents, 200 terms.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_admin import build, logged_in, timed  # noqa: E402
from common.config import DashboardSettings  # noqa: E402
from common.days import today  # noqa: E402
from common.report import Period  # noqa: E402
from common.store.utm import UTM_COLUMNS  # noqa: E402
from services.dashboard.queries import period_query  # noqa: E402

SOURCES = ("yandex", "google", "vk", "telegram", "mail", "dzen", "avito", "2gis", "ok", "email")


def source_of(row: int) -> str | None:
    return None if row % 10 == 9 else SOURCES[row * 7 % len(SOURCES)]


def add_utm(path: Path) -> None:
    """UTM values for every lead, spread by its row number."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_function("source_of", 1, source_of, deterministic=True)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "UPDATE leads SET utm_source = source_of(rowid),"
        " utm_medium = CASE rowid % 4 WHEN 0 THEN 'cpc' WHEN 1 THEN 'cpm' WHEN 2 THEN 'social'"
        "  ELSE 'email' END,"
        " utm_campaign = campaign_id, utm_content = 'ad-' || (rowid % 12),"
        " utm_term = 'term-' || (rowid % 200)"
    )
    conn.execute("COMMIT")
    conn.close()  # build() then migrates on: 0020 and 0025 count the leads with these


def drill_path(path: Path, period: Period) -> list[dict[str, str]]:
    """The query of each level: none chosen, then the commonest value of each level in turn
    among the leads of the period (the heaviest line to open)."""
    since, until = period.bounds(DashboardSettings().zone)
    conn = sqlite3.connect(path)
    chosen: dict[str, str] = {}
    levels = [dict(chosen)]
    for column in UTM_COLUMNS[:-1]:
        where = "".join(f" AND {name} = ?" for name in chosen)
        value = conn.execute(
            f"SELECT {column} FROM leads WHERE created_at >= ? AND created_at < ?{where}"
            f" AND {column} IS NOT NULL GROUP BY {column} ORDER BY count(*) DESC LIMIT 1",
            (since, until, *chosen.values()),
        ).fetchone()[0]
        chosen[column] = value
        levels.append(dict(chosen))
    conn.close()
    return levels


async def measure(path: Path, runs: int, lengths: list[int]) -> None:
    async with logged_in(path) as (http, base, _):
        for days in lengths:
            period = Period.ending(today(DashboardSettings().zone), days)
            dates = period_query(period)
            admin = statistics.median(await timed(http, f"{base}/admin?{urlencode(dates)}", runs))
            print(
                f"{days} days ({period.first} .. {period.last}):"
                f" /admin median {admin * 1000:.0f} ms"
            )
            pages = [
                (f"UTM {UTM_COLUMNS[len(q)]}", "/admin/reports/utm", q)
                for q in drill_path(path, period)
            ]
            pages.append(("per-day table", "/admin/reports/days", {}))
            pages.append(("UTM utm_source XLSX", "/admin/reports/utm.xlsx", {}))
            for label, page, query in pages:
                took = statistics.median(
                    await timed(http, f"{base}{page}?{urlencode(dates | query)}", runs)
                )
                print(f"  {label:<24} median {took * 1000:6.0f} ms  = {took / admin:4.2f} x /admin")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("/tmp/leadrelay-bench/utm.db"))
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7, 30, 90])
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(args.db, args.leads, utm=True)
        print(f"built in {time.perf_counter() - started:.0f} s")
    asyncio.run(measure(args.db, args.runs, args.days))


if __name__ == "__main__":
    main()
