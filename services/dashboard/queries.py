"""Every read the dashboard makes; each one is a counter lookup or an indexed range."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from common import clock
from common.config import Settings
from common.db import Database
from common.errors import InvalidField
from common.tasks import TaskQueue

LEAD_STATUSES = ("new", "sent_to_crm", "crm_failed", "paid", "lost")
CHART_CAMPAIGNS = 6
RETRYING_ATTEMPTS = 3  # a pending task tried this often counts as its connection failing
# Nearly every task is completed; once ANALYZE has seen that, SQLite would scan all
# of them for status = 'failed'. The open statuses are few, so the index is right.
BY_STATUS = "INDEXED BY tasks_by_status_created"


@dataclass(frozen=True)
class LeadFilter:
    campaign: str | None = None
    status: str | None = None
    date_from: str | None = None  # YYYY-MM-DD, inclusive
    date_to: str | None = None  # YYYY-MM-DD, inclusive

    @classmethod
    def from_query(cls, query) -> LeadFilter:
        status = query.get("status") or None
        if status is not None and status not in LEAD_STATUSES:
            raise _invalid("status", f"must be one of {', '.join(LEAD_STATUSES)}")
        dates = {}
        for name in ("date_from", "date_to"):
            value = query.get(name) or None
            if value is not None:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise _invalid(name, "must be a date YYYY-MM-DD") from None
            dates[name] = value
        return cls(campaign=query.get("campaign") or None, status=status, **dates)

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.campaign:
            clauses.append("campaign_id = ?")
            params.append(self.campaign)
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        if self.date_from:
            clauses.append("created_at >= ?")
            params.append(self.date_from)
        if self.date_to:
            clauses.append("created_at < ?")
            params.append((date.fromisoformat(self.date_to) + timedelta(days=1)).isoformat())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def query_string(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _invalid(field: str, message: str) -> InvalidField:
    return InvalidField(f"{field}: {message}", [{"field": field, "message": message}])


def page_bounds(query, default: int = 50, most: int = 500) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", default))
        offset = int(query.get("offset", 0))
    except ValueError:
        raise _invalid("limit", "limit and offset must be whole numbers") from None
    if not 1 <= limit <= most:
        raise _invalid("limit", f"must be from 1 to {most}")
    if offset < 0:
        raise _invalid("offset", "must not be negative")
    return limit, offset


class DashboardQueries:
    """The dashboard's own reads; campaign counters and events come from their services."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    async def health(self) -> dict[str, Any]:
        """Open task counts (not completed: that one grows forever) and failing connections."""
        counts = await TaskQueue(self.db).open_counts()
        oldest = await self.db.scalar("SELECT min(created_at) FROM tasks WHERE status = 'pending'")
        age = (clock.now() - clock.parse(oldest)).total_seconds() if oldest else None
        # One indexed range per status (an OR across them would scan every task).
        troubled = await self.db.fetchall(
            "SELECT l.campaign_id, l.crm_connection FROM ("
            f"  SELECT payload FROM tasks {BY_STATUS}"
            "  WHERE status = 'failed' AND type = 'send_to_crm'"
            f"  UNION ALL SELECT payload FROM tasks {BY_STATUS}"
            "  WHERE status = 'pending' AND type = 'send_to_crm' AND attempts >= ?"
            ") t JOIN leads l ON l.id = json_extract(t.payload, '$.lead_id')",
            (RETRYING_ATTEMPTS,),
        )
        failing = Counter(
            row["crm_connection"] or self.settings.route_for(row["campaign_id"]) or ""
            for row in troubled
        )
        return counts | {
            "oldest_pending_seconds": age,
            "failing": sorted(failing.items(), key=lambda kv: -kv[1]),
        }

    async def daily(self, days: int = 30) -> dict[str, Any]:
        """Per-day series per campaign (the busiest few, the rest as 'other')."""
        today = clock.now().date()
        axis = [(today - timedelta(days=days - 1 - n)).isoformat() for n in range(days)]
        rows = await self.db.fetchall(
            "SELECT * FROM daily_stats WHERE day >= ? ORDER BY day", (axis[0],)
        )
        busiest = Counter()
        for row in rows:
            busiest[row["campaign_id"]] += row["leads"] + row["payments"]
        shown = {name for name, _ in busiest.most_common(CHART_CAMPAIGNS)}
        series: dict[str, dict[str, list[float]]] = {
            metric: defaultdict(lambda: [0.0] * days) for metric in ("leads", "payments", "revenue")
        }
        index = {day: n for n, day in enumerate(axis)}
        for row in rows:
            name = row["campaign_id"] if row["campaign_id"] in shown else "other"
            n = index.get(row["day"])
            if n is None:
                continue
            series["leads"][name][n] += row["leads"]
            series["payments"][name][n] += row["payments"]
            series["revenue"][name][n] += row["revenue_minor"] / 100
        return {"days": axis, "series": {k: dict(v) for k, v in series.items()}}

    async def leads(self, where: LeadFilter, limit: int, offset: int) -> list[sqlite3.Row]:
        clause, params = where.where()
        return await self.db.fetchall(
            f"SELECT * FROM leads{clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    async def export(self, where: LeadFilter, batch: int = 1000) -> AsyncIterator[sqlite3.Row]:
        """Every matching lead, newest first, a batch at a time (keyset, not OFFSET)."""
        clause, params = where.where()
        after: tuple[str, str] | None = None
        while True:
            keyset = ""
            extra: list[Any] = []
            if after:
                keyset = (" AND " if clause else " WHERE ") + "(created_at, id) < (?, ?)"
                extra = list(after)
            rows = await self.db.fetchall(
                f"SELECT * FROM leads{clause}{keyset} ORDER BY created_at DESC, id DESC LIMIT ?",
                (*params, *extra, batch),
            )
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

    async def tasks_needing_attention(self, limit: int = 200) -> list[dict[str, Any]]:
        now = clock.now_iso()
        rows = await self.db.fetchall(
            "SELECT * FROM ("
            f"  SELECT * FROM tasks {BY_STATUS} WHERE status = 'failed'"
            "  UNION ALL SELECT * FROM tasks WHERE status = 'processing' AND locked_until < ?"
            f"  UNION ALL SELECT * FROM tasks {BY_STATUS}"
            "  WHERE status = 'pending' AND attempts >= ?"
            ") ORDER BY updated_at DESC LIMIT ?",
            (now, RETRYING_ATTEMPTS, limit),
        )
        return [dict(row) | {"payload": json.loads(row["payload"])} for row in rows]
