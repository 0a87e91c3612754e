"""Each CRM connection as the dashboard shows it: how it authorizes and until when, what its
deliveries last ran into (said as what happened: refused with 400, not answering,
credentials rejected), and where a person opens a record in it; never a token."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

from common import appkeys
from common.config import AmoCrmConnection, Settings
from common.integrations.base import CrmIntegration
from common.model import Task, TaskType
from common.store import Tx
from common.store.credentials import StoredTokens
from common.tasks import ResolveDeal
from services.dashboard.alert_chats import blocked
from services.dashboard.keys import QUERIES
from services.dashboard.queries import RETRYING_ATTEMPTS
from services.dashboard.signals import Failure, read_failure

TROUBLE_SAMPLE = 200  # the newest troubled tasks read for each connection's latest error


@dataclass(frozen=True)
class CredentialState:
    name: str
    kind: str
    state: str  # long_lived | oauth | not_authorized | refused | configured
    expires: str | None = None  # a date, or an ISO time (UTC)
    error: str | None = None


def credential_states(settings: Settings, stored: list[StoredTokens]) -> list[CredentialState]:
    by_name = {tokens.connection: tokens for tokens in stored}
    return [_state(name, c, by_name.get(name)) for name, c in sorted(settings.crm.items())]


def _state(name: str, connection: object, tokens: StoredTokens | None) -> CredentialState:
    if not isinstance(connection, AmoCrmConnection):
        kind = str(getattr(connection, "kind", "?"))
        return CredentialState(name, kind, "configured")  # a webhook URL or secret: no expiry
    if not connection.oauth:
        expires = connection.token_expires.isoformat() if connection.token_expires else None
        return CredentialState(name, "amocrm", "long_lived", expires)
    if tokens is None:
        return CredentialState(name, "amocrm", "not_authorized")
    state = "refused" if tokens.last_error else "oauth"
    return CredentialState(name, "amocrm", state, tokens.expires_at, tokens.last_error)


def crm_link(
    integrations: dict[str, CrmIntegration], connection: str | None, ref: str | None
) -> str | None:
    """Where a person opens a record (`deal:<id>` for a deal) in the CRM, when it has such a
    page."""
    integration = integrations.get(connection or "")
    if integration is None or not ref:
        return None
    return integration.deal_link(ref)


@dataclass(frozen=True)
class Trouble:
    """A connection whose deliveries fail: how many leads wait on it (all of them counted),
    and the latest failure among its newest troubled tasks, read as what happened."""

    connection: str | None  # None: campaigns routed to no CRM
    kind: str | None
    count: int
    failure: Failure | None
    at: str | None  # when the latest failure was written (UTC)


def connection_of(settings: Settings, task: Task, campaign: str, sent_to: str | None) -> str:
    """The connection a task works against: the deal's for a deal, else where its lead was
    sent or its campaign routes ("" for a campaign routed nowhere)."""
    if isinstance(task.payload, ResolveDeal):
        return task.payload.connection
    return sent_to or settings.route_for(campaign) or ""


async def troubles(request: web.Request) -> list[Trouble]:
    """Each failing connection as the overview counts it (queries.health), with the latest
    error its tasks recorded."""
    settings = request.app[appkeys.SETTINGS]
    health = await request.app[QUERIES].health()

    def read(tx: Tx) -> dict[str, Task]:
        tasks = tx.tasks.needing_attention(RETRYING_ATTEMPTS, TROUBLE_SAMPLE)
        leads = tx.leads.many([task.lead_id for task in tasks if task.lead_id])
        latest: dict[str, Task] = {}
        for task in tasks:  # newest first
            lead = leads.get(task.lead_id or "")
            if task.type is TaskType.SEND_TO_CRM and lead is not None and task.last_error:
                name = connection_of(settings, task, lead.campaign_id, lead.crm_connection)
                latest.setdefault(name, task)
        return latest

    latest = await request.app[appkeys.STORE].read(read)
    found = []
    for name, count in health["failing"]:
        task = latest.get(name)
        connection = settings.crm.get(name)
        found.append(
            Trouble(
                connection=name or None,
                kind=getattr(connection, "kind", None),
                count=count,
                failure=read_failure(task.last_error) if task else None,
                at=task.updated_at if task else None,
            )
        )
    return found


@aiohttp_jinja2.template("connections.html")
async def page(request: web.Request) -> dict[str, object]:
    settings = request.app[appkeys.SETTINGS]
    stored = await request.app[appkeys.STORE].read(lambda tx: tx.credentials.all())
    found = await troubles(request)
    return {
        "connections": credential_states(settings, stored),
        "troubles": {trouble.connection: trouble for trouble in found},
        "unrouted": next((trouble for trouble in found if trouble.connection is None), None),
        "alerts_telegram": settings.alerts.telegram is not None,
        "blocked_chats": await blocked(request),
    }
