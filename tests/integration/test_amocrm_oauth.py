"""amoCRM's OAuth integration end to end: the first code exchanged from the CLI, tokens
refreshed before expiry and on a 401 by one dispatcher at a time, refusals on /healthz.

The emulator (tests/emulators/amocrm.py) answers the token endpoint as amoCRM's OAuth pages
say: a code and a refresh token work once, an expired access token is answered 401.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from common.cli import main
from common.config import Settings
from common.crm_tokens import stored_credentials
from common.integrations.registry import build_integrations
from common.leads import LeadService
from common.model import LeadStatus, NewLead
from common.store import open_store
from services.dashboard import formats
from services.dashboard.app import create_app as dashboard_app
from services.dispatcher.app import create_app
from tests.emulators import amocrm, generic
from tests.emulators.faults import start
from tests.helpers import (
    SECRET,
    ZONE,
    ago,
    crm_connections,
    execute,
    rows,
    snapshot,
    stored,
    wait_for_async,
)
from tests.integration.test_dashboard import PASSWORD, log_in

OAUTH = amocrm.OAuthApp()


@pytest.fixture
async def amo():
    emulator = amocrm.AmoCrm("no-token-yet")
    runner, url = await start(amocrm.create_app(emulator))
    emulator.url = url
    yield emulator
    await runner.cleanup()


def oauth_settings(database: str, amo_url: str, **more: object) -> Settings:
    connection = {
        "kind": "amocrm",
        "base_url": amo_url,
        "client_id": OAUTH.client_id,
        "client_secret": OAUTH.client_secret,
        "redirect_uri": OAUTH.redirect_uri,
        "webhook_token": "hook-secret",
    }
    return Settings(
        database=database,
        crm={"amo": connection},
        routing={"default_crm": "amo"},
        dispatcher={"poll_interval": 0.05, "retry_base_delay": 0.05},
        **more,
    )


async def authorized(store, amo, settings: Settings) -> None:
    """The first pair, as `leadrelay amocrm authorize` gets it."""
    amo.oauth.codes.add("code-1")
    integration = build_integrations(settings)["amo"]
    async with aiohttp.ClientSession() as http:
        tokens = await integration.exchange(http, "authorization_code", "code-1")
    await store.write(lambda tx: tx.credentials.put("amo", tokens))


async def sent(store, lead_id: str):
    lead = await store.read(lambda tx: tx.leads.find(lead_id))
    return lead if lead.status == LeadStatus.SENT_TO_CRM else None


async def deliver_one(aiohttp_client, store, settings) -> str:
    lead_id, _ = await store.write(
        lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c", phone="+79990000001"))
    )
    await aiohttp_client(create_app(settings))
    await wait_for_async(lambda: sent(store, lead_id))
    return lead_id


async def test_an_expired_access_token_is_refreshed_and_the_lead_delivered(
    aiohttp_client, database, store, amo
):
    settings = oauth_settings(database, amo.url)
    await authorized(store, amo, settings)
    # A day later: the access token has run out, by our clock and by amoCRM's.
    execute(database, "UPDATE crm_credentials SET expires_at = ?", (stored(ago(minutes=1)),))
    amo.oauth.expired.add("access-1")

    await deliver_one(aiohttp_client, store, settings)

    assert amo.oauth.grants == ["authorization_code", "refresh_token"]
    assert [lead["_embedded"]["tags"][0]["name"] for lead in amo.received] == ["c"]
    [row] = rows(database, "SELECT * FROM crm_credentials")
    assert (row["access_token"], row["refresh_token"], row["version"]) == (
        "access-2",
        "refresh-2",
        2,
    )
    assert row["expires_at"] > stored(ago(hours=-23))  # the new token's 24 hours


async def test_a_token_amocrm_refuses_before_its_time_is_refreshed_once_and_the_call_retried(
    aiohttp_client, database, store, amo
):
    settings = oauth_settings(database, amo.url)
    await authorized(store, amo, settings)
    amo.oauth.expired.add("access-1")  # revoked early: our row still says hours are left

    await deliver_one(aiohttp_client, store, settings)

    assert amo.oauth.grants.count("refresh_token") == 1
    assert len(amo.received) == 1
    [row] = rows(database, "SELECT access_token, version FROM crm_credentials")
    assert row == {"access_token": "access-2", "version": 2}


async def test_two_dispatchers_refreshing_at_once_spend_the_refresh_token_once(
    database, store, amo
):
    settings = oauth_settings(database, amo.url)
    await authorized(store, amo, settings)
    execute(database, "UPDATE crm_credentials SET expires_at = ?", (stored(ago(minutes=1)),))
    other = await open_store(
        database, settings.busy_timeout, zone=settings.dashboard.zone
    )  # a second dispatcher process
    amo.oauth.hold = asyncio.Event()  # the first refresh is still in flight when both ask
    try:
        first = build_integrations(settings, stored_credentials(store))["amo"]
        second = build_integrations(settings, stored_credentials(other))["amo"]
        async with aiohttp.ClientSession() as http:
            both = asyncio.gather(first.credentials.bearer(http), second.credentials.bearer(http))

            async def refreshing():
                return "refresh_token" in amo.oauth.grants

            await wait_for_async(refreshing)
            amo.oauth.hold.set()
            tokens = await both
    finally:
        await other.close()
    assert tokens == ["access-2", "access-2"]
    assert amo.oauth.grants == ["authorization_code", "refresh_token"]
    [row] = rows(database, "SELECT refresh_token, version, refreshing_until FROM crm_credentials")
    assert row == {"refresh_token": "refresh-2", "version": 2, "refreshing_until": None}


async def test_only_one_claim_of_a_version_succeeds(database, store, amo):
    await authorized(store, amo, oauth_settings(database, amo.url))
    other = await open_store(database, 0.5, zone=ZONE)
    try:
        claims = await asyncio.gather(
            store.write_alone(lambda tx: tx.credentials.claim("amo", 1, 60)),
            other.write_alone(lambda tx: tx.credentials.claim("amo", 1, 60)),
        )
    finally:
        await other.close()
    assert sorted(claims) == [False, True]


@pytest.mark.parametrize("kind", ["amocrm", "generic"])
async def test_a_refused_credential_is_a_health_problem_at_once_and_clears_after_a_success(
    aiohttp_client, database, store, amo, kind
):
    receiver = generic.Receiver(SECRET)
    runner, url = await start(generic.create_app(receiver))
    connections = crm_connections(base_url=amo.url, token="wrong")
    connections["shop"]["url"] = f"{url}/leads"
    receiver.faults.status = 401 if kind == "generic" else None
    name = {"amocrm": "amo", "generic": "shop"}[kind]
    settings = Settings(
        database=database,
        crm=connections,
        routing={"default_crm": name},
        dispatcher={"poll_interval": 0.05},
    )
    try:
        lead_id, task_id = await store.write(
            lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c", phone="+79990000001"))
        )
        client = await aiohttp_client(create_app(settings))

        async def unhealthy():
            answer = await client.get("/healthz")
            return answer.status == 503 and (await answer.json())["problems"]

        [problem] = await wait_for_async(unhealthy)
        assert f"connection {name!r}" in problem and "401" in problem
        task = await store.read(lambda tx: tx.tasks.get(task_id))
        assert task.attempts == 1  # the first refusal, not a day of them

        amo.token, receiver.faults.status = "wrong", None  # a person fixed the credentials
        execute(database, "UPDATE tasks SET run_after = ? WHERE id = ?", (stored(ago(1)), task_id))
        await wait_for_async(lambda: sent(store, lead_id))

        async def healthy():
            return (await client.get("/healthz")).status == 200

        assert await wait_for_async(healthy)
    finally:
        await runner.cleanup()


async def test_the_cli_exchanges_the_first_code_and_stores_the_pair(
    database, store, amo, tmp_path, monkeypatch, capsys
):
    config = tmp_path / "leadrelay.toml"
    config.write_text(
        f'database = "{database}"\n[crm.amo]\nkind = "amocrm"\nbase_url = "{amo.url}"\n'
        f'client_id = "{OAUTH.client_id}"\nredirect_uri = "{OAUTH.redirect_uri}"\n'
        'webhook_token = "hook-secret"\n'
    )
    monkeypatch.setenv("LEADRELAY_CONFIG", str(config))
    monkeypatch.setenv("LEADRELAY_CRM__AMO__CLIENT_SECRET", OAUTH.client_secret)
    amo.oauth.codes.add("code-1")

    assert await asyncio.to_thread(main, ["amocrm", "authorize", "amo", "--code", "code-1"]) == 0
    [row] = rows(database, "SELECT access_token, refresh_token, version FROM crm_credentials")
    assert row == {"access_token": "access-1", "refresh_token": "refresh-1", "version": 1}
    assert amo.oauth.bodies[0]["client_secret"] == OAUTH.client_secret

    # The code works once: a second exchange is refused and says what to do.
    assert await asyncio.to_thread(main, ["amocrm", "authorize", "amo", "--code", "code-1"]) == 1
    said = capsys.readouterr()
    assert "stored" in said.out and "authorize again" in said.err
    for secret in ("access-1", "refresh-1", OAUTH.client_secret, "code-1"):
        assert secret not in said.out + said.err

    # A blank code is refused here, not sent to amoCRM to be refused there.
    assert await asyncio.to_thread(main, ["amocrm", "authorize", "amo", "--code", " "]) == 2
    assert "--code is empty" in capsys.readouterr().err
    assert len(amo.oauth.bodies) == 2  # the two exchanges above, nothing more


async def test_no_token_or_secret_reaches_the_logs_or_another_table(
    aiohttp_client, database, store, amo, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = oauth_settings(database, amo.url)
    await authorized(store, amo, settings)
    amo.oauth.expired.add("access-1")
    await deliver_one(aiohttp_client, store, settings)
    amo.oauth.expired.add("access-2")
    amo.oauth.refresh_tokens.clear()  # the refresh token revoked: the refusal is kept

    lead_id, _ = await store.write(
        lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c", phone="+79990000002"))
    )

    async def refused():
        [row] = rows(database, "SELECT last_error FROM crm_credentials")
        return row["last_error"]

    assert "authorize again" in await wait_for_async(refused)
    secrets = ("access-1", "access-2", "refresh-1", "refresh-2", OAUTH.client_secret, "code-1")
    tables = snapshot(database)
    assert tables.pop("crm_credentials")
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(tables)


async def test_the_dashboard_shows_each_connections_credentials_and_expiry_never_a_token(
    aiohttp_client, database, store, amo
):
    settings = oauth_settings(
        database, amo.url, dashboard={"password": PASSWORD, "secret_key": "k" * 40}
    )
    long_lived = crm_connections(token_expires=(ago(days=-200)).date().isoformat())["amo"]
    settings.crm["old"] = Settings(crm={"old": long_lived}).crm["old"]
    dash = await aiohttp_client(dashboard_app(settings))
    await log_in(dash)
    before = await (await dash.get("/admin")).text()
    assert "leadrelay amocrm authorize amo" in before  # not authorized yet: what to run

    await authorized(store, amo, settings)
    [row] = rows(database, "SELECT expires_at FROM crm_credentials")
    page = await (await dash.get("/admin")).text()
    # In the dashboard's zone, named, as every time it shows; not UTC's wall clock.
    zone = settings.dashboard.zone
    shown = formats.when(row["expires_at"], "ru", zone)
    assert shown.endswith(formats.zone_label(zone, formats.local(row["expires_at"], zone)))
    assert shown in page and row["expires_at"][:19].replace("T", " ") not in page
    assert "(UTC)" not in page
    # The long-lived token's given expiry, a day.
    assert formats.day(ago(days=-200).date().isoformat(), "ru", zone) in page
    for secret in ("access-1", "refresh-1", OAUTH.client_secret, "amo-secret"):
        assert secret not in page
