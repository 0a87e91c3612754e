"""amoCRM refusing every access token, one fresh from a refresh too (401 after a refresh):
the account, or the integration's access to it, needs a person, and no refresh helps."""

import aiohttp
import pytest
from aiohttp import web

from common.crm_tokens import stored_credentials
from common.health import Health
from common.integrations.base import TemporaryFailure
from common.integrations.registry import build_integrations
from common.model import TaskType
from services.dispatcher.crm import CrmDelivery
from tests.emulators.faults import Faults, start
from tests.helpers import ago, execute, rows, stored
from tests.integration.test_amocrm_oauth import (  # noqa: F401
    OAUTH,
    amo,
    authorized,
    oauth_settings,
)
from tests.integration.test_crm_duplicates import new_lead


async def deliver(store, delivery: CrmDelivery) -> None:
    """Claim every send_to_crm task, due or not, and deliver it as the dispatcher does."""
    execute(store.location, "UPDATE tasks SET run_after = ?", (stored(ago(days=1)),))
    tasks = await store.write(
        lambda tx: tx.tasks.claim_due(10, 30.0, (TaskType.SEND_TO_CRM,), with_leads=True)
    )
    for task in tasks:
        await delivery([task])


async def test_a_refused_fresh_token_is_not_refreshed_again_for_every_lead(
    database,
    store,
    amo,  # noqa: F811
    move_clock,
):
    """Before: each lead's 401 spent a refresh (5 leads, 5 refreshes; a backlog of a
    thousand, a thousand, each retry again). Now one, then none for REFRESH_PAUSE; the
    leads wait with the reason, on /healthz too, and go once a person has fixed it."""
    settings = oauth_settings(database, amo.url)
    await authorized(store, amo, settings)
    amo.faults = Faults(status=401)  # every API call, whatever the token
    for n in range(5):
        await new_lead(store, "spring", phone=f"+7916000000{n}")
    health = Health()
    async with aiohttp.ClientSession() as http:
        integrations = build_integrations(settings, stored_credentials(store))
        delivery = CrmDelivery(settings, store, integrations, http, lambda *_: None, health)
        await deliver(store, delivery)
        assert amo.oauth.grants == ["authorization_code", "refresh_token"]
        tasks = rows(store.location, "SELECT status, last_error FROM tasks")
        assert {t["status"] for t in tasks} == {"pending"}
        assert all("answered HTTP 401" in t["last_error"] for t in tasks)
        [problem] = health.problems()
        assert problem.startswith("connection 'amo'") and "401" in problem

        move_clock(minutes=11)  # the pause is over: one more try of a fresh token
        await deliver(store, delivery)
        assert amo.oauth.grants.count("refresh_token") == 2

        amo.faults = Faults()  # a person gave the integration its access back
        await deliver(store, delivery)
    leads = rows(store.location, "SELECT status FROM leads")
    assert [lead["status"] for lead in leads] == ["sent_to_crm"] * 5
    assert amo.oauth.grants.count("refresh_token") == 2 and len(amo.received) == 5


async def test_a_token_endpoint_error_that_echoes_the_request_keeps_its_secrets_out(database):
    """amoCRM's token endpoint gets the client secret and the refresh token in its body. A
    400 had them taken out of its answer; a 503 (or a 429) kept them, on the credential's
    last_error, the task and the log."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"title": "Unavailable", "got": await request.json()}, status=503)

    app = web.Application()
    app.router.add_post("/oauth2/access_token", echo)
    runner, url = await start(app)
    settings = oauth_settings(database, url)
    integration = build_integrations(settings)["amo"]
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(TemporaryFailure, match="HTTP 503") as failure:
                await integration.exchange(http, "refresh_token", "refresh-token-value-1")
    finally:
        await runner.cleanup()
    assert "refresh-token-value-1" not in failure.value.message
    assert OAUTH.client_secret not in failure.value.message and "***" in failure.value.message
