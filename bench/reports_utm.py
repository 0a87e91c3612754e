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
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_admin import build  # noqa: E402
from common.config import DashboardSettings  # noqa: E402
from common.days import today  # noqa: E402
from common.report import Period  # noqa: E402
from tests.helpers import free_port  # noqa: E402

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
    conn.execute("ANALYZE")
    conn.close()
