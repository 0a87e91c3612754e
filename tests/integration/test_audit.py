"""The audit trail of the dashboard: each action recorded with who and from where (the client
behind the proxy), a failed login without its password, the admin's page of it (staff are
refused), its filters, its times in the dashboard's zone, and its downloads matching it."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from common import appkeys
from common.audit import Action, AuditEntry
from common.config import Settings
from common.days import today
from common.model import Role
from common.reconciling import Reading
from services.dashboard.app import create_app
from tests.helpers import ago, rows, stored
from tests.integration.test_dashboard import csrf_of, seed
from tests.integration.test_dashboard_users import PASSWORDS, a_failed_task, add
from tests.integration.test_lead_card import failed_lead

CLIENT = "203.0.113.9"  # the address our proxy (127.0.0.1, trusted) names for the client
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # +10 all year: no summer time to trip on


def settings_of(database: str, zone: str = "Europe/Moscow") -> Settings:
    return Settings(
        database=database,
        dashboard={"password": "configured-pass", "secret_key": "k" * 40, "timezone": zone},
    )


@pytest.fixture
async def dash(aiohttp_client, database, store):
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    return await aiohttp_client(create_app(settings_of(database)))


def via(client: str = CLIENT) -> dict[str, str]:
    return {"X-Forwarded-For": client}


async def log_in(dash, name: str, password: str, client: str = CLIENT):
    token = csrf_of(await (await dash.get("/login")).text())
    form = {"username": name, "password": password, "csrf_token": token, "next": "/admin"}
    return await dash.post("/login", data=form, headers=via(client), allow_redirects=False)


async def post(dash, path: str, **form: str):
    token = csrf_of(await (await dash.get("/admin/tasks")).text())
    data = {"csrf_token": token, **form}
    return await dash.post(path, data=data, headers=via(), allow_redirects=False)


def trail(database: str) -> list[dict]:
    return rows(database, "SELECT * FROM audit_log ORDER BY id")


def said(database: str) -> list[tuple[str, str, str, str]]:
    return [(r["actor"], r["action"], r["target"], r["address"]) for r in trail(database)]


async def test_logins_failed_logins_and_logouts_name_who_and_where(dash, database):
    wrong = "wrong-password-!7"
    assert (await log_in(dash, "anna", wrong)).status == 401
    assert (await log_in(dash, "anna", PASSWORDS["anna"], client="198.51.100.7")).status == 302
    assert (await post(dash, "/logout")).status == 302
    assert said(database) == [
        ("anna", "login_failed", "", CLIENT),
        ("anna", "login", "", "198.51.100.7"),
        ("anna", "logout", "", CLIENT),
    ]
    every_value = " ".join(str(v) for r in trail(database) for v in r.values())
    assert wrong not in every_value and PASSWORDS["anna"] not in every_value


async def test_failed_logins_are_recorded_as_far_as_the_limit_lets_them_try(dash, database):
    statuses = [(await log_in(dash, "root", f"guess-{n}")).status for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    assert said(database) == [("root", "login_failed", "", CLIENT)] * 5  # refused ones: none


async def test_retries_send_again_and_attaching_are_recorded_with_the_action(dash, store):
    task_id = await a_failed_task(store)
    lead_id = await failed_lead(store)
    await a_failed_task(store)  # left for "retry all"
    payment_id = await store.write(
        lambda tx: tx.unmatched.keep("amo", "555", "1200.00", "RUB", stored(ago(days=1)))
    )
    await log_in(dash, "anna", PASSWORDS["anna"])
    assert (await post(dash, f"/admin/tasks/{task_id}/retry")).status == 302
    assert (await post(dash, f"/admin/tasks/{task_id}/retry")).status == 302  # not failed now
    assert (await post(dash, f"/admin/leads/{lead_id}/send-again")).status == 302
    assert (await post(dash, "/admin/tasks/retry-failed")).status == 302
    assert (await post(dash, f"/admin/payments/{payment_id}/attach", lead_id=lead_id)).status in (
        200,
        302,
    )
    found = trail(store.location)[1:]  # after the login
    assert [(r["actor"], r["action"], r["target"], r["address"]) for r in found] == [
        ("anna", "retry", f"task {task_id}", CLIENT),  # the second found nothing: no line
        ("anna", "retry", lead_id, CLIENT),
        ("anna", "retry_all", "", CLIENT),
        ("anna", "attach_payment", lead_id, CLIENT),
    ]
    assert found[1]["details"] == '{"what": "send_again"}'
    assert found[2]["details"] == '{"tasks": "1"}'  # the one left
    assert f'"payment": "{payment_id}"' in found[3]["details"]


async def test_every_export_is_recorded_with_its_filters_and_no_contact(dash, store):
    await seed(store)
    await log_in(dash, "vera", PASSWORDS["vera"])  # staff may export leads and reports
    period = {"date_from": str(today(ZoneInfo("Europe/Moscow")) - timedelta(days=6))}
    downloads = {
        f"/admin/leads.csv?{urlencode({'q': '+7 916 123-45-67', 'status': 'new'})}": "leads.csv",
        "/admin/leads.xlsx?campaign=spring": "leads.xlsx",
        f"/admin/reports/days.csv?{urlencode(period)}": "days-",
        f"/admin/reports/utm.xlsx?{urlencode(period)}": "utm-utm_source-",
        f"/admin/campaigns.csv?{urlencode(period)}": "campaigns-",
        f"/admin/campaigns.xlsx?{urlencode(period)}": "campaigns-",
    }
    for path in downloads:
        assert (await dash.get(path, headers=via())).status == 200, path
    exports = trail(store.location)[1:]
    assert [(r["actor"], r["action"], r["address"]) for r in exports] == [
        ("vera", "export", CLIENT)
    ] * len(downloads)
    for entry, (path, name) in zip(exports, downloads.items(), strict=True):
        assert entry["target"].startswith(name), path
    assert exports[0]["details"] == '{"q": "+7********67", "status": "new"}'
    assert period["date_from"] in exports[2]["target"]  # the period is in the file's name
    # Every field but the id and the time, whose digits may hold "916" (…:13.891641Z did).
    everything = " ".join(str(r[k]) for r in exports for k in r if k not in ("id", "at"))
    assert "916" not in everything and "123-45" not in everything


async def test_staff_may_not_see_the_audit_log(dash):
    await log_in(dash, "vera", PASSWORDS["vera"])
    for path in ("/admin/audit", "/admin/audit.csv", "/admin/audit.xlsx"):
        refused = await dash.get(path)
        assert refused.status == 403, path
        assert "vera" in await refused.text()
    assert 'id="nav-audit"' not in await (await dash.get("/admin")).text()


def entries(store, count: int) -> None:
    """`count` entries a minute apart, the newest a minute ago, from three actors."""
    actions = (Action.LOGIN, Action.EXPORT, Action.RETRY)
    return [
        AuditEntry(
            actor=("anna", "boris", "=cmd|' /C calc'!A0")[n % 3],
            action=actions[n % 3],
            target=f"t{n}",
            address=f"192.0.2.{n % 250}",
            details={"n": str(n)},
            at=stored(ago(minutes=count - n)),
        )
        for n in range(count)
    ]


async def add_entries(store, made: list[AuditEntry]) -> None:
    def unit(tx):
        for entry in made:
            tx.audit.add(entry)

    await store.write(unit)


def page_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table id="audit".*?<tbody>(.*?)</tbody>', html, re.S)[1]
    found = re.findall(r"<tr data-entry.*?>(.*?)</tr>", table, re.S)
    return [
        [
            cell.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in found
    ]


async def test_the_page_is_paged_newest_first_and_filtered(dash, store):
    await add_entries(store, entries(store, 70))
    await log_in(dash, "anna", PASSWORDS["anna"])
    first = await (await dash.get("/admin/audit")).text()
    shown = page_rows(first)
    assert len(shown) == 50
    assert shown[0][1:4] == ["anna", "Вход", ""]  # her own login, the newest
    assert [r[3] for r in shown[1:4]] == ["t69", "t68", "t67"]
    older = re.search(r'href="([^"]+)" id="audit-older"', first)[1].replace("&amp;", "&")
    rest = page_rows(await (await dash.get(f"/admin/audit{older}")).text())
    assert [r[3] for r in rest] == [f"t{n}" for n in range(20, -1, -1)]

    boris = page_rows(await (await dash.get("/admin/audit?actor=boris")).text())
    assert {r[1] for r in boris} == {"boris"} and len(boris) == 23
    exports = page_rows(await (await dash.get("/admin/audit?action=export")).text())
    assert {r[2] for r in exports} == {"Выгрузка"} and len(exports) == 23
    english = await (await dash.get("/admin/audit?action=retry", cookies={"lang": "en"})).text()
    assert {r[2] for r in page_rows(english)} == {"Sent again"}

    refused = await dash.get("/admin/audit?action=reboot&date_from=2026-13-01")
    assert refused.status == 422
    assert "Действие: нужен один из статусов" in await refused.text()


async def test_a_period_is_of_local_days_and_times_are_in_the_zone(aiohttp_client, database):
    dash = await aiohttp_client(create_app(settings_of(database, "Asia/Vladivostok")))
    store = dash.app[appkeys.STORE]
    await add(store, "anna", Role.ADMIN)
    day = today(VLADIVOSTOK) - timedelta(days=3)
    midnight = datetime.combine(day, time(), VLADIVOSTOK)  # 14:00 UTC the day before
    await add_entries(
        store,
        [
            AuditEntry(
                "anna", Action.EXPORT, "before", at=stored(midnight - timedelta(minutes=30))
            ),
            AuditEntry(
                "anna", Action.EXPORT, "on the day", at=stored(midnight + timedelta(minutes=30))
            ),
        ],
    )
    await log_in(dash, "anna", PASSWORDS["anna"])
    html = await (await dash.get(f"/admin/audit?date_from={day}&date_to={day}")).text()
    [row] = page_rows(html)
    assert row[3] == "on the day"
    assert row[0] == f"{day:%d.%m.%Y}, 00:30 +10"  # the local time, its zone named
    assert "Когда (+10)" in html


async def test_the_downloads_match_the_page_and_are_recorded(dash, store):
    await add_entries(store, entries(store, 30))
    await log_in(dash, "anna", PASSWORDS["anna"])
    query = "?action=retry"
    page = page_rows(await (await dash.get(f"/admin/audit{query}")).text())
    assert len(page) == 10

    resp = await dash.get(f"/admin/audit.csv{query}", headers=via())
    assert resp.status == 200 and 'filename="audit.csv"' in resp.headers["Content-Disposition"]
    text = (await resp.read()).decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header[0] == "Когда (MSK)"
    # What the page shows, a formula-looking name kept as text (a leading apostrophe).
    assert [[c.removeprefix("'") for c in line] for line in lines] == page
    assert all(line[1].startswith("'=") for line in lines if "cmd" in line[1])

    book = await dash.get(f"/admin/audit.xlsx{query}", headers=via())
    sheet = openpyxl.load_workbook(io.BytesIO(await book.read())).active
    values = [
        [str(c) if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)
    ]
    assert values[1:] == page

    recorded = trail(store.location)[-2:]
    assert [(r["actor"], r["action"], r["target"], r["address"]) for r in recorded] == [
        ("anna", "export", "audit.csv", CLIENT),
        ("anna", "export", "audit.xlsx", CLIENT),
    ]
    assert recorded[0]["details"] == '{"action": "retry"}'
    assert 'id="nav-audit"' in await (await dash.get("/admin")).text()


def problem_of(html: str, key: str) -> str:
    return re.search(rf'<p class="([^"]*)"[^>]*data-problem="{key}"', html)[1]


async def test_an_admin_acknowledges_a_problem_until_it_changes_or_time_passes(
    dash, store, move_clock
):
    off = Reading(webhook="amoCRM switched the webhook off")
    await store.write(lambda tx: tx.cursors.set("amo", off))
    await log_in(dash, "vera", PASSWORDS["vera"])
    html = await (await dash.get("/admin")).text()
    assert "warning" in problem_of(html, "webhook:amo") and 'name="problem"' not in html
    staff = await post(dash, "/admin/problems/acknowledge", problem="webhook:amo")
    assert staff.status == 403

    await log_in(dash, "anna", PASSWORDS["anna"])
    form = {"problem": "webhook:amo", "note": "Olga re-enables it in amoCRM"}
    assert (await post(dash, "/admin/problems/acknowledge", **form)).status == 302
    html = await (await dash.get("/admin")).text()
    assert problem_of(html, "webhook:amo").startswith("acknowledged")
    assert "anna" in html and "Olga re-enables it in amoCRM" in html
    [entry] = [r for r in trail(store.location) if r["action"] == "acknowledge"]
    assert (entry["actor"], entry["target"], entry["address"]) == ("anna", "webhook:amo", CLIENT)
    assert "Olga re-enables it" in entry["details"]

    move_clock(hours=25)  # the acknowledgement has run out
    assert "warning" in problem_of(await (await dash.get("/admin")).text(), "webhook:amo")
    assert (await post(dash, "/admin/problems/acknowledge", **form)).status == 302
    changed = Reading(webhook="the webhook answers 404 now")  # a new problem: shown again
    await store.write(lambda tx: tx.cursors.set("amo", changed))
    assert "warning" in problem_of(await (await dash.get("/admin")).text(), "webhook:amo")

    before = len(trail(store.location))
    gone = await post(dash, "/admin/problems/acknowledge", problem="webhook:bitrix")
    assert gone.status == 302
    assert "Этой проблемы уже нет" in await (await dash.get("/admin")).text()
    assert len(trail(store.location)) == before  # nothing acknowledged, nothing recorded
