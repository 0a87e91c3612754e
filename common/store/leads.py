"""Reads of the `leads` projection, as `Lead` values."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from zoneinfo import ZoneInfo

from common.contacts import fold
from common.days import bounds
from common.errors import LeadNotFound
from common.model import LEAD_COLUMNS, Lead, LeadStatus, campaign_key
from common.search import LeadSearch, SearchKind
from common.store.contact_history import ContactHistory
from common.store.sql import Row, Sql, as_dict, loads

SELECT = f"SELECT {', '.join(LEAD_COLUMNS)} FROM leads"
# Columns the store keeps beside a lead's own, for comparing: its e-mail and name folded
# (common.contacts.fold; migration 0019), written by the projection from the same event.
KEY_COLUMNS = ("email_key", "name_key")
# How each kind of search is asked (common.search): a whole phone, e-mail or id through its
# index; a part of a name, e-mail or phone as a substring, which reads every row it filters.
LIKE = "LIKE ? ESCAPE '\\'"
SEARCHES = {
    SearchKind.LEAD_ID: "id = ?",
    SearchKind.PHONE: "phone = ?",
    SearchKind.EMAIL: "email_key = ?",
    SearchKind.DIGITS: f"phone {LIKE}",
    SearchKind.TEXT: f"(name_key {LIKE} OR email_key {LIKE})",
}


# Each field of a Lead and the C setter of its slot. A frozen dataclass's own __init__ sets
# each field through object.__setattr__ by name: 9-14 µs for a lead's 30 fields, on the
# writer thread for every lead a claim reads (py-spy: 5 % of a busy dispatcher's time);
# the slots' setters take 3 µs. Every field is set from the row, none from a default.
_LEAD_SLOTS = tuple((f.name, getattr(Lead, f.name).__set__) for f in fields(Lead))


def lead_from_row(row: Row) -> Lead:
    values = as_dict(row)
    values["status"] = LeadStatus(values["status"])
    values["extra"] = loads(values["extra"]) or {}
    values["warnings"] = loads(values["warnings"]) or []
    values["payment_pending"] = bool(values["payment_pending"])
    lead = object.__new__(Lead)
    for name, put in _LEAD_SLOTS:
        put(lead, values[name])
    return lead


@dataclass(frozen=True)
class LeadFilter:
    """Which leads a list or an export shows; dates are days in the business's zone, both
    inclusive."""

    campaign: str | None = None
    status: LeadStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    search: LeadSearch | None = None  # what was typed in the search box, read

    def where(self, zone: ZoneInfo) -> tuple[list[str], list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.search:
            clause = SEARCHES[self.search.kind]
            clauses.append(clause)
            params += [_pattern(self.search)] * clause.count("?")
        if self.campaign:
            clauses.append("campaign_id = ?")
            params.append(self.campaign)
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        # Local days as UTC bounds of the stored times, so the created_at index answers.
        if self.date_from:
            clauses.append("created_at >= ?")
            params.append(bounds(self.date_from, self.date_from, zone)[0])
        if self.date_to:
            clauses.append("created_at < ?")
            params.append(bounds(self.date_to, self.date_to, zone)[1])
        return clauses, params


def _pattern(search: LeadSearch) -> str:
    """The value a search compares with: a LIKE pattern for a part (its own % _ \\ taken
    literally), the value itself for a whole one."""
    if search.kind not in (SearchKind.DIGITS, SearchKind.TEXT):
        return search.value
    escaped = search.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


class LeadRows:
    def __init__(self, sql: Sql, zone: ZoneInfo):
        self.sql = sql
        self.zone = zone
        self.history = ContactHistory(sql)  # intake's question, asked ahead or not

    def find(self, lead_id: str) -> Lead | None:
        row = self.sql.one(f"{SELECT} WHERE id = ?", (lead_id,))
        return None if row is None else lead_from_row(row)

    def get(self, lead_id: str) -> Lead:
        """The lead, or LeadNotFound (a 404)."""
        lead = self.find(lead_id)
        if lead is None:
            raise LeadNotFound(f"lead {lead_id} does not exist")
        return lead

    def many(self, lead_ids: list[str]) -> dict[str, Lead]:
        found: dict[str, Lead] = {}
        for start in range(0, len(lead_ids), 500):
            chunk = lead_ids[start : start + 500]
            rows = self.sql.all(f"{SELECT} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found |= {row["id"]: lead_from_row(row) for row in rows}
        return found

    def version(self, lead_id: str) -> int | None:
        value = self.sql.value("SELECT version FROM leads WHERE id = ?", (lead_id,))
        return None if value is None else int(value)

    def by_crm_id(self, connection: str, crm_lead_id: str, other_than: str = "") -> Lead | None:
        # Duplicate control can join several of our leads to one CRM lead: those it joined
        # are `merged` into the one the CRM lead came from, and its news is that lead's.
        row = self.sql.one(
            f"{SELECT} WHERE crm_connection = ? AND crm_lead_id = ? AND id <> ?"
            " ORDER BY status = 'merged', created_at, id LIMIT 1",
            (connection, crm_lead_id, other_than),
        )
        return None if row is None else lead_from_row(row)

    def by_payment_deal(self, connection: str, deal_id: str) -> Lead | None:
        """The lead this connection's deal paid (a deletion names the deal only)."""
        row = self.sql.one(
            f"{SELECT} WHERE crm_connection = ? AND payment_deal_id = ? LIMIT 1",
            (connection, deal_id),
        )
        return None if row is None else lead_from_row(row)

    def recent_with_contact(
        self, campaign_id: str | None, phone: str | None, email: str | None, since: str
    ) -> str | None:
        """The first lead of this campaign (compared without case; None: of any) since
        `since` with this phone or this email (compared without case: `Ivan@x.ru` is
        `ivan@x.ru`)."""
        found = []
        key = None if campaign_id is None else campaign_key(campaign_id)
        # Of any campaign, the contact's first row is the answer: a repeat customer's history
        # is not read at intake. Of one campaign, the window is minutes, so one contact's rows
        # are few; past the bound, a new lead is made.
        limit = 1 if key is None else 100
        for column, value in (("phone", phone), ("email_key", fold(email))):
            if value:
                # Folded here, not by SQL lower(): SQLite's folds ASCII only.
                rows = self.sql.all(
                    f"SELECT id, created_at, campaign_id FROM leads WHERE {column} = ?"
                    " AND created_at >= ? ORDER BY created_at LIMIT ?",
                    (value, since, limit),
                )
                found += [
                    (row["created_at"], row["id"])
                    for row in rows
                    if key is None or campaign_key(row["campaign_id"]) == key
                ][:1]
        return min(found)[1] if found else None

    def contact_history(
        self, campaign_id: str, phone: str | None, email: str | None, since: str | None
    ) -> tuple[str | None, bool]:
        """What intake asks of a contact, in one statement (asked ahead by a PostgreSQL
        batch: common/store/contact_history.py): the first lead of this campaign since
        `since` with this phone or e-mail, as `recent_with_contact` finds it (None, or no
        `since`: none looked for), and whether any lead ever had either (the overview's
        repeat leads)."""
        return self.history.answer(campaign_id, phone, email, since)

    def latest(self, limit: int = 10) -> list[Lead]:
        rows = self.sql.all(f"{SELECT} ORDER BY created_at DESC LIMIT ?", (limit,))
        return [lead_from_row(row) for row in rows]

    def page(
        self, where: LeadFilter, limit: int, after: tuple[str, str] | None = None, offset: int = 0
    ) -> list[Lead]:
        """Matching leads, newest first: after a (created_at, id) keyset, or from an offset."""
        clauses, params = where.where(self.zone)
        if after is not None:
            clauses.append("(created_at, id) < (?, ?)")
            params += list(after)
        rows = self.sql.all(
            f"{SELECT}{_where(clauses)} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [lead_from_row(row) for row in rows]

    def count(self, where: LeadFilter) -> int:
        """How many leads match: the total a list of them shows."""
        clauses, params = where.where(self.zone)
        return int(self.sql.value(f"SELECT count(*) FROM leads{_where(clauses)}", params))

    def extra_keys(self, where: LeadFilter, most: int = 1000) -> list[tuple[str, int]]:
        """The keys of the matching leads' `extra` (quiz answers and other fields) and how
        many leads have each, the most common first (then by key): at most `most`."""
        clauses, params = where.where(self.zone)
        clauses.append("extra <> '{}'")
        keys = self.sql.json_keys("l.extra", "j")
        rows = self.sql.all(
            f"SELECT j.key AS key, count(*) AS leads FROM (SELECT extra FROM leads"
            f"{_where(clauses)}) AS l, {keys} GROUP BY j.key ORDER BY count(*) DESC, j.key LIMIT ?",
            (*params, most),
        )
        found = [(str(row["key"]), int(row["leads"])) for row in rows]
        return sorted(found, key=lambda kv: (-kv[1], kv[0]))  # ties in one order on both engines

    # What the cost report reads of the leads of a period ([since, until), UTC times): each a
    # range of an index, grouped in SQL. A minute ('YYYY-MM-DDTHH:MM') is the finest bucket
    # needed: every zone's midnight falls on a whole minute of UTC, so a minute lies in one
    # local day, whatever the zone.

    def utm_campaigns(self, since: str, until: str) -> list[Row]:
        """utm_campaign, campaign_id and how many leads came with the pair in the period."""
        return self.sql.all(
            "SELECT utm_campaign, campaign_id, count(*) AS leads FROM leads"
            " WHERE created_at >= ? AND created_at < ? AND utm_campaign IS NOT NULL"
            " GROUP BY utm_campaign, campaign_id",
            (since, until),
        )
