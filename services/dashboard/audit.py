"""Recording the dashboard's actions in the audit trail (common.audit): who (the logged-in
user, or "api" for the bearer token), from where (the client's address, read through
dashboard.trusted_proxies), what, and to what — in the same transaction as the action."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from aiohttp import web

from common import appkeys
from common.audit import Action, AuditEntry
from common.contacts import mask_email, mask_name, mask_phone
from common.search import SearchKind, read_search
from common.store import Tx
from services.dashboard import auth

T = TypeVar("T")
API_ACTOR = "api"  # the JSON API's bearer token names nobody
MOST_DETAILS = 20  # a download's query parameters kept, each cut to LONGEST characters
LONGEST = 200


def address(request: web.Request) -> str:
    """The client's address: behind a listed proxy, the one it forwarded (common.proxies)."""
    return request.remote or ""


def entry(
    request: web.Request,
    action: Action,
    target: str = "",
    details: Mapping[str, str] | None = None,
) -> AuditEntry:
    user = auth.current_user(request)
    return AuditEntry(
        actor=user.name if user else API_ACTOR,
        action=action,
        target=target,
        address=address(request),
        details=details or {},
    )


async def write(
    request: web.Request,
    unit: Callable[[Tx], T],
    said: AuditEntry | Callable[[T], AuditEntry],
    *,
    if_done: bool = False,
) -> T:
    """Run `unit` and record `said` (or what it says of the result) in the same transaction;
    with `if_done`, only when the result is not nothing (a retry that found a task to retry)."""

    def recorded(tx: Tx) -> T:
        result = unit(tx)
        if result or not if_done:
            tx.audit.add(said(result) if callable(said) else said)
        return result

    return await request.app[appkeys.STORE].write(recorded)


async def record(request: web.Request, said: AuditEntry) -> None:
    """An action that writes nothing else (a download, a failed login): a write of its own."""
    await request.app[appkeys.STORE].write(lambda tx: tx.audit.add(said))


async def exported(request: web.Request, name: str) -> None:
    """A download: which file, with the filters and period it was asked with. A search for a
    person is kept masked: the log names no contact."""
    details = {key: value[:LONGEST] for key, value in list(request.query.items())[:MOST_DETAILS]}
    if details.get("q"):
        details["q"] = masked_search(request, request.query["q"])
    await record(request, entry(request, Action.EXPORT, name, details))


def masked_search(request: web.Request, typed: str) -> str:
    region = request.app[appkeys.SETTINGS].ingest.default_phone_region
    try:
        search = read_search(typed, region)
    except ValueError:
        return "…"
    if search is None:
        return ""
    if search.kind in (SearchKind.PHONE, SearchKind.DIGITS):
        return mask_phone(search.value) or ""
    if search.kind == SearchKind.EMAIL:
        return mask_email(search.value) or ""
    if search.kind == SearchKind.LEAD_ID:
        return search.typed
    return mask_name(search.typed) or ""
