"""The audit log for an admin (/admin/audit): who did what, when and from where, newest first,
50 a page, filtered by actor, action and a period of local days; downloadable as CSV and XLSX
with the same rows in the same words (and the download itself recorded)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.audit import Action, AuditEntry, AuditFilter
from common.days import bounds
from common.errors import InvalidField
from common.store import Tx
from services.dashboard.export import Column, Table
from services.dashboard.i18n import Words
from services.dashboard.pages import invalid_fields, words
from services.dashboard.queries import read_dates
from services.dashboard.reports import download

PAGE = 50
EXPORT_MOST = 100_000  # rows of one download; a narrower filter gets the older ones
BATCH = 5000
FILTERS = ("actor", "action", "date_from", "date_to")
LONGEST_ACTOR = 100


def _invalid(field: str, message: str) -> InvalidField:
    return InvalidField(f"{field}: {message}", [{"field": field, "message": message}])


def read_filter(request: web.Request) -> AuditFilter:
    """The filter in the query: an actor's name, an action's word, `date_from`..`date_to`
    (days of the dashboard's zone, both included); 422 naming what is wrong."""
    query = request.query
    action = query.get("action") or None
    if action is not None and action not in Action.__members__.values():
        raise _invalid("action", f"must be one of {', '.join(Action)}")
    actor = query.get("actor") or None
    if actor is not None and len(actor) > LONGEST_ACTOR:
        raise _invalid("actor", f"must be at most {LONGEST_ACTOR} characters")
    dates, zone = read_dates(query), request.app[appkeys.SETTINGS].dashboard.zone
    first, last = dates["date_from"], dates["date_to"]
    return AuditFilter(
        actor=actor,
        action=action,
        since=bounds(first, first, zone)[0] if first else None,
        until=bounds(last, last, zone)[1] if last else None,
    )


def _before(query: Mapping[str, str]) -> int | None:
    """The `before` cursor: entries older than this id (the next page)."""
    text = query.get("before")
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise _invalid("before", "must be a whole number")
    return int(text)


def columns(t: Words) -> list[Column]:
    keys = ("audit_when", "audit_actor", "audit_action", "audit_target", "audit_address")
    return [Column(t(key, zone=t.zone_label), "text") for key in (*keys, "audit_details")]


def cells(entry: AuditEntry, t: Words) -> list[object]:
    """One entry as the page and the downloads show it: the time in the dashboard's zone,
    the action in the reader's words."""
    details = "; ".join(f"{key}: {value}" for key, value in entry.details.items())
    action = t.name("did", entry.action)
    return [t.when(entry.at), entry.actor, action, entry.target, entry.address, details]


def chosen(query: Mapping[str, str]) -> dict[str, str]:
    return {name: query[name] for name in FILTERS if query.get(name)}


async def page(request: web.Request) -> web.Response:
    t, store = words(request), request.app[appkeys.STORE]
    try:
        where, before = read_filter(request), _before(request.query)
        error = None
    except InvalidField as invalid:  # a person typed it: the form again, with why
        where, before = AuditFilter(), None
        error = "; ".join(map(": ".join, invalid_fields(t, invalid)))

    def read(tx: Tx) -> tuple[list[AuditEntry], list[str]]:
        return tx.audit.newest(PAGE + 1, before, where), tx.audit.actors()

    entries, actors = await store.read(read) if error is None else ([], [])
    shown, more = entries[:PAGE], len(entries) > PAGE
    query = chosen(request.query)
    context = {
        "columns": columns(t),
        "rows": [(entry, cells(entry, t)) for entry in shown],
        "actors": actors,
        "actions": list(Action),
        "chosen": query,
        "error": error,
        "older_url": f"?{urlencode(query | {'before': shown[-1].id})}" if more else None,
        "newest_url": f"?{urlencode(query)}" if before is not None else None,
        "downloads": {kind: f"/admin/audit.{kind}?{urlencode(query)}" for kind in ("csv", "xlsx")},
    }
    status = 422 if error else 200
    return aiohttp_jinja2.render_template("audit.html", request, context, status=status)


def everything(tx: Tx, where: AuditFilter) -> list[AuditEntry]:
    """The entries a download holds: newest first, at most EXPORT_MOST, one snapshot."""
    found: list[AuditEntry] = []
    before = None
    while len(found) < EXPORT_MOST:
        batch = tx.audit.newest(min(BATCH, EXPORT_MOST - len(found)), before, where)
        found += batch
        if len(batch) < BATCH:
            break
        before = batch[-1].id
    return found


async def export(request: web.Request) -> web.Response:
    """The filtered log as the page shows it, as CSV or XLSX (`kind`)."""
    where = read_filter(request)
    entries = await request.app[appkeys.STORE].read(lambda tx: everything(tx, where))
    t = words(request)
    table = Table(t("audit_sheet"), columns(t), [cells(entry, t) for entry in entries])
    return await download(request, table, "audit")
