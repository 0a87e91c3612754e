"""A NUL character (U+0000) in any input: SQLite's text holds it, PostgreSQL's refuses it, so
it used to pass on one backend and answer 500 on the other (a lead with a usable contact lost,
a dashboard search failing). Now a lead's field is kept without it, with a warning; an address
or a dashboard form that holds one is a 400 naming it; nothing answers 500, on either backend."""

from __future__ import annotations

from common.config import Settings
from services.dashboard.app import create_app as dashboard_app
from services.ingest.app import create_app as ingest_app
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import crm_connections, rows, snapshot
from tests.integration.test_dashboard import csrf_of
from tests.integration.test_dashboard_users import log_in
from tests.integration.test_webhooks import FORM, amo_form

PASSWORD = "s3cret-pass"


async def test_a_lead_keeps_its_fields_without_the_nul_and_says_so(aiohttp_client, settings):
    client = await aiohttp_client(ingest_app(settings))
    lead = {
        "phone": "+7916\u00001234567",
        "name": "Иван\u0000 Петров",
        "comment": "\u0000\u0000",
        "utm_source": "yan\u0000dex",
        "campaign_id": "spring\u0000",
    }
    resp = await client.post("/api/v1/leads", json=lead)
    assert resp.status == 200, await resp.text()
    lead_id = (await resp.json())["lead_id"]
    [row] = rows(settings.database, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    assert (row["phone"], row["name"], row["comment"]) == ("+79161234567", "Иван Петров", None)
    assert (row["utm_source"], row["campaign_id"]) == ("yandex", "spring")
    warned = {w["field"]: w["reason"] for w in (await resp.json())["warnings"]}
    assert warned["name"] == warned["comment"] == "NUL characters taken out"


async def test_a_tilda_post_with_a_nul_in_its_tranid_is_kept_once(aiohttp_client, settings):
    client = await aiohttp_client(ingest_app(settings))
    form = {"Phone": "+79161234567", "tranid": "123\x00456", "formid": "form1"}
    first = await client.post("/api/v1/leads", data=form)
    again = await client.post("/api/v1/leads", data=form)  # Tilda's retry
    assert first.status == again.status == 200, await first.text()
    assert (await first.json())["lead_id"] == (await again.json())["lead_id"]
    assert len(rows(settings.database, "SELECT id FROM leads")) == 1


async def test_a_nul_in_an_address_is_a_400_everywhere(aiohttp_client, settings, database):
    ingest = await aiohttp_client(ingest_app(settings))
    assert (await ingest.post("/api/v1/le%00ads", json={"phone": "+79161234567"})).status == 400
    dash = await aiohttp_client(
        dashboard_app(Settings(database=database, dashboard={"password": PASSWORD}))
    )
    await log_in(dash, "admin", PASSWORD)
    before = snapshot(database)
    for address in ("/admin/leads?q=ab%00cd", "/admin/payments?q=%00", "/admin/leads/ab%00cd"):
        resp = await dash.get(address)
        assert resp.status == 400, address
        assert "NUL character" in await resp.text()
    assert snapshot(database) == before


async def test_a_dashboard_form_with_a_nul_changes_nothing(aiohttp_client, database):
    dash = await aiohttp_client(
        dashboard_app(Settings(database=database, dashboard={"password": PASSWORD}))
    )
    await log_in(dash, "admin", PASSWORD)
    token = csrf_of(await (await dash.get("/admin/payments")).text())
    before = snapshot(database)
    resp = await dash.post(
        "/admin/payments/1/dismiss", data={"csrf_token": token, "reason": "demo\x00junk"}
    )
    assert resp.status == 400 and "NUL character" in await resp.text()
    assert snapshot(database) == before


async def test_a_webhook_with_a_nul_is_never_a_500(aiohttp_client, database):
    hooks = await aiohttp_client(webhooks_app(Settings(database=database, crm=crm_connections())))
    url = "/api/v1/webhooks/crm/amo?token=hook-secret"
    for body in (amo_form(("3000\x000001", "142", "1500\x00")), b"leads\x00=1"):
        resp = await hooks.post(url, data=body, headers=FORM)
        assert resp.status < 500, await resp.text()
