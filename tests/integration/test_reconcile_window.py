"""Reconciliation reads a fixed window: edits mid-scan, documented forms, bounds, problems."""

import asyncio
from datetime import timedelta

import aiohttp

from common.config import Settings
from common.health import Health
from common.integrations.registry import build_integrations
from services.dashboard.app import create_app as dashboard
from services.dispatcher.app import create_app as dispatcher
from services.dispatcher.reconcile import MAX_PAGES, DealReconciliation
from tests.emulators import amocrm
from tests.emulators.faults import start
from tests.helpers import ago, crm_connections, moscow, rows, wait_for_async
from tests.integration.test_dashboard import PASSWORD, log_in
from tests.integration.test_reconcile import delivered


def b24_of(b24):
    return build_integrations(Settings(crm=crm_connections(f"{b24.url}{b24.path}")))["b24"]


async def paid(store, lead_id: str) -> tuple[str, str | None, str | None]:
    lead = await store.read(lambda tx: tx.leads.get(lead_id))
    return lead.status, lead.payment_amount, lead.paid_at


async def test_bitrix24_refuses_the_undocumented_filter_forms(b24):
    """What the portal takes (b24restdocs): `@` for IN, datetimes with an offset and no
    fraction; the forms leadrelay sent before are refused."""
    url = f"{b24.url}{b24.path}/crm.deal.list.json"
    documented = {"@STAGE_SEMANTIC_ID": ["S", "F"], ">=DATE_MODIFY": "2026-01-01T00:00:00+03:00"}
    refused = [
        {"STAGE_SEMANTIC_ID": ["S", "F"]},
        {">=DATE_MODIFY": "2026-01-01T00:00:00.123456Z"},
        {">=DATE_MODIFY": "2026-01-01T00:00:00Z"},
    ]
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"filter": documented}) as ok:
            assert ok.status == 200
        for form in refused:
            async with http.post(url, json={"filter": form}) as answer:
                assert answer.status == 400, form
                assert (await answer.json())["error"] == "INVALID_ARG_VALUE"


async def test_bitrix24_a_deal_edited_between_pages_does_not_hide_another(store, b24):
    first = ago(hours=1)
    for n in range(120):  # IDs and DATE_MODIFY rise together: one order either way
        b24.add_deal(
            str(100 + n),
            STAGE_SEMANTIC_ID="S",
            OPPORTUNITY="10.00",
            CURRENCY_ID="RUB",
            LEAD_ID=str(9000 + n),
            DATE_MODIFY=moscow(first + timedelta(seconds=n)),
        )
    lead_id = await delivered(store, "9050")  # deal 150: the first of the second page

    def edit() -> None:  # a manager touches deal 110 while we read: it moves to the end
        b24.deals["110"]["DATE_MODIFY"] = moscow(ago(seconds=0))

    b24.on_page.append(edit)
    async with aiohttp.ClientSession() as http:
        await DealReconciliation(store, b24_of(b24), http).once()
    assert (await paid(store, lead_id))[:2] == ("paid", "10.00")


async def test_amocrm_a_lead_edited_between_pages_does_not_hide_another(store):
    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    try:
        start_at = int(ago(hours=1).timestamp())
        for n in range(300):
            amo.set_lead(40_000_000 + n, status_id=142, price=5, updated_at=start_at + 10 * n)
        lead_id = await delivered(store, str(40_000_250), connection="amo")  # page 2's first

        def edit() -> None:
            amo.state[40_000_005]["updated_at"] = int(ago(seconds=0).timestamp())

        amo.on_page.append(edit)
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            await DealReconciliation(store, crms["amo"], http).once()
    finally:
        await runner.cleanup()
    assert (await paid(store, lead_id))[:2] == ("paid", "5.00")


async def test_amocrm_payment_time_is_when_the_lead_was_closed(store):
    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    won, edited = ago(days=3), ago(minutes=10)  # won days ago, a note added today
    try:
        lead_id = await delivered(store, "30000001", connection="amo")
        amo.set_lead(
            30000001,
            status_id=142,
            price=900,
            updated_at=int(edited.timestamp()),
            closed_at=int(won.timestamp()),
        )
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            assert await DealReconciliation(store, crms["amo"], http).once() == ["ok"]
    finally:
        await runner.cleanup()
    status, amount, paid_at = await paid(store, lead_id)
    assert (status, amount) == ("paid", "900.00")
    assert paid_at is not None and paid_at.startswith(won.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_a_crm_that_always_says_next_cannot_make_a_round_endless(store):
    amo = amocrm.AmoCrm("amo-secret")
    amo.always_next = True
    runner, url = await start(amocrm.create_app(amo))
    try:
        amo.set_lead(30000009, status_id=142, price=1, updated_at=int(ago(hours=2).timestamp()))
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            reconcile = DealReconciliation(store, crms["amo"], http)
            await asyncio.wait_for(reconcile.once(), timeout=20)
            calls = amo.calls
    finally:
        await runner.cleanup()
    assert calls <= MAX_PAGES + 1  # the pages of one round, and the look at the webhooks
    reading = await store.read(lambda tx: tx.cursors.get("amo"))
    assert reading.until is not None and reading.place  # the next round goes on from here


async def test_an_unreadable_deal_is_skipped_and_counted_the_rest_applied(store, b24):
    now = moscow(ago(minutes=5))
    good = await delivered(store, "700")
    fields = {"STAGE_SEMANTIC_ID": "S", "CURRENCY_ID": "RUB", "DATE_MODIFY": now}
    b24.add_deal("20", LEAD_ID="700", OPPORTUNITY="100.00", MOVED_TIME=now, **fields)
    b24.add_deal("21", LEAD_ID="701", OPPORTUNITY="1e999999", **fields)  # no amount
    b24.add_deal("22", LEAD_ID="702", OPPORTUNITY="5.00", **fields)
    b24.shown["22"] = {"DATE_MODIFY": "вчера"}  # a DATE_MODIFY that does not parse
    async with aiohttp.ClientSession() as http:
        await DealReconciliation(store, b24_of(b24), http).once()
    assert (await paid(store, good))[:2] == ("paid", "100.00")
    reading = await store.read(lambda tx: tx.cursors.get("b24"))
    assert reading.skipped == 1 and reading.until is None
    [unmatched] = rows(store.location, "SELECT amount FROM unmatched_payments")
    assert unmatched["amount"] == "5.00"  # deal 22, read despite its DATE_MODIFY


async def test_a_disabled_amocrm_webhook_is_a_problem_without_its_token(store):
    amo = amocrm.AmoCrm("amo-secret")
    amo.webhooks = [
        {"id": 1, "destination": "https://other.example/hook", "disabled": True},
        {
            "id": 2,
            "destination": "https://leads.example.ru/api/v1/webhooks/crm/amo?token=hook-secret",
            "disabled": True,
            "settings": ["status_lead"],
        },
    ]
    runner, url = await start(amocrm.create_app(amo))
    health = Health()
    try:
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            reconcile = DealReconciliation(store, crms["amo"], http, health.report)
            await reconcile.once()
            [problem] = health.problems()
            assert "leads.example.ru/api/v1/webhooks/crm/amo" in problem
            assert "hook-secret" not in problem
            reading = await store.read(lambda tx: tx.cursors.get("amo"))
            assert reading.webhook == problem  # what the dashboard shows
            amo.webhooks[1]["disabled"] = False  # an admin switched it on again
            await reconcile.once()
    finally:
        await runner.cleanup()
    assert health.problems() == []
    assert (await store.read(lambda tx: tx.cursors.get("amo"))).webhook is None


async def test_a_reconciliation_failing_round_after_round_is_shown(
    aiohttp_client, settings, store, b24
):
    """On the dispatcher's /healthz after three rounds, and on the dashboard's admin page."""
    b24.faults.status = 500  # the portal fails every call
    connection = crm_connections(f"{b24.url}{b24.path}")["b24"] | {"reconcile_every": 0.05}
    configured = Settings(
        database=settings.database,
        crm={"b24": connection},
        dashboard={"password": PASSWORD, "secret_key": "k" * 40},
    )
    worker = await aiohttp_client(dispatcher(configured))

    async def unhealthy():
        answer = await worker.get("/healthz")
        return answer.status == 503 and (await answer.json())["problems"]

    [problem] = await wait_for_async(unhealthy)
    assert "reconciliation of b24 has failed 3 rounds in a row" in problem
    assert "HTTP 500" in problem
    dash = await aiohttp_client(dashboard(configured))
    await log_in(dash)
    page = await (await dash.get("/admin")).text()
    assert 'class="warning reconcile-failing"' in page and "HTTP 500" in page
    b24.faults.status = None  # the portal is back: the problem goes away

    async def healthy():
        return (await worker.get("/healthz")).status == 200

    await wait_for_async(healthy)
    assert "reconcile-failing" not in await (await dash.get("/admin")).text()
