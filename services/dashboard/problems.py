"""Configuration problems on the overview (a connection failing, reconciliation failing, a CRM's
webhook switched off, refused credentials, a Telegram chat refusing the alerts' bot) that an
admin may acknowledge with a note: the problem is then shown as acknowledged, not as an alert,
while it says the same and for ACK_HOURS; a changed problem or a passed time makes it an alert
again. Recorded in the audit log."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from common import appkeys, clock
from common.audit import Action
from common.store import Tx
from common.store.acknowledged import Acknowledged
from common.store.alerts import ChatState
from services.dashboard import audit, auth
from services.dashboard.alert_chats import alert_key
from services.dashboard.connections import CredentialState, credential_states
from services.dashboard.keys import QUERIES
from services.dashboard.pages import flash, words
from services.dashboard.queries import Readings

ACK_HOURS = 24
LONGEST_NOTE = 500


def current(
    failing: list[tuple[str, int]],
    readings: Readings,
    connections: list[CredentialState],
    chats: list[ChatState],
) -> dict[str, str]:
    """Each problem the overview shows now, by its key: what it says (a count that grows is
    the same problem; a different reason is a new one)."""
    found = {f"failing:{name}" if name else "unrouted": "failing" for name, _ in failing}
    for name, reading in readings.items():
        if reading.failures:
            found[f"reconcile:{name}"] = reading.problem or "failing"
        if reading.webhook:
            found[f"webhook:{name}"] = reading.webhook
    found |= {f"credentials:{c.name}": c.error for c in connections if c.error}
    found |= {alert_key(chat.chat_id): chat.blocked for chat in chats if chat.blocked}
    return found


def holding(
    shown: dict[str, str], acknowledged: dict[str, Acknowledged]
) -> dict[str, Acknowledged]:
    """The acknowledgements that still hold: of a problem shown, saying what it said then."""
    return {key: seen for key, seen in acknowledged.items() if shown.get(key) == seen.state}


async def acknowledge(request: web.Request) -> web.StreamResponse:
    """An admin's "seen it" on a problem of the overview, with a note."""
    form = await auth.check_csrf(request)
    key, note = form.get("problem", ""), form.get("note", "").strip()[:LONGEST_NOTE]
    store, settings = request.app[appkeys.STORE], request.app[appkeys.SETTINGS]
    health = await request.app[QUERIES].health()
    stored, chats = await store.read(lambda tx: (tx.credentials.all(), tx.alerts.blocked_chats()))
    connections = credential_states(settings, stored)
    shown = current(health["failing"], health["reconciliation"], connections, chats)
    t = words(request)
    if key not in shown:  # solved since the page was opened, or never one
        await flash(request, t("ack_gone"))
        raise web.HTTPFound("/admin")
    said = audit.entry(
        request, Action.ACKNOWLEDGE, key, {"note": note, "problem": shown[key][:200]}
    )
    now = clock.now()
    seen = Acknowledged(
        problem=key,
        state=shown[key],
        actor=said.actor,
        note=note,
        at=clock.iso(now),
        until=clock.iso(now + timedelta(hours=ACK_HOURS)),
    )

    def unit(tx: Tx) -> None:
        tx.acknowledged.put(seen)

    await audit.write(request, unit, said)
    await flash(request, t("ack_done", hours=ACK_HOURS))
    raise web.HTTPFound("/admin")
