"""What /healthz says of a connection whose unmatched payments reached their cap, until they
are fewer again: a payment attached or dismissed on the dashboard (another process) frees room
that /healthz sees when next asked, one indexed count for each connection it reports full."""

from __future__ import annotations

from aiohttp import web

from common import appkeys
from common.health import Recheck
from common.payments import DEFERRED, Answer
from services.webhooks.keys import INTEGRATIONS


def problem(connection: str, cap: int) -> str:
    return (
        f"connection {connection} holds {cap} open unmatched payments"
        " (webhooks.max_unmatched_per_connection): new ones are deferred, kept only in their"
        " webhook receipts (outcome 'deferred'); attach the open ones, or dismiss those not"
        " ours, on the dashboard's Unmatched payments page, and change the webhook's secret"
        " if they are not real"
    )


def unmatched_room(app: web.Application, connection: str, answer: Answer, cap: int) -> None:
    """Report the connection full when a payment was deferred; clear it once one fits again."""
    if answer.get("status") == DEFERRED:  # one of its notices was (PaymentService says so)
        _report_full(app, connection, cap)
    elif answer.get("status") == "unmatched":
        app[appkeys.HEALTH].report(f"unmatched:{connection}", None)


async def check_unmatched_room(app: web.Application) -> None:
    """At start: the connections already full say so at once."""
    cap = app[appkeys.SETTINGS].webhooks.max_unmatched_per_connection
    integrations = app[INTEGRATIONS]
    names = list(integrations)
    held = await app[appkeys.STORE].read(lambda tx: [tx.unmatched.open_count(n) for n in names])
    for name, count in zip(names, held, strict=True):
        if count >= cap:
            _report_full(app, name, cap)


def _report_full(app: web.Application, connection: str, cap: int) -> None:
    app[appkeys.HEALTH].report(
        f"unmatched:{connection}", problem(connection, cap), _still_full(app, connection, cap)
    )


def _still_full(app: web.Application, connection: str, cap: int) -> Recheck:
    async def holds() -> bool:
        count = await app[appkeys.STORE].read(lambda tx: tx.unmatched.open_count(connection))
        return count >= cap

    return holds
