"""A person in headless Chromium: log in, pick the overview's periods and check its cards
against the database, open a lead, send it again, retry, switch language, export CSV and XLSX
and check them against the database; every page fits a 1366 px and a 390 px screen in Russian
and in English; a lead made at 00:30 Moscow time is on that Moscow day everywhere.

Screenshots land in test-artifacts/browser/.
"""

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import openpyxl
import pytest
from playwright.async_api import async_playwright
from uuid6 import uuid7

from common import clock
from common.events import LeadCreated
from common.model import NewLead
from common.store import open_store
from tests.e2e.system import AMO_WEBHOOK_TOKEN, DASHBOARD_PASSWORD
from tests.helpers import local, rows, stored, wait_for_async

CHROMIUM = "/usr/bin/chromium"
MOSCOW = ZoneInfo("Europe/Moscow")
WIDTHS = (1366, 390)  # a laptop and a phone
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        await chromium.close()


async def post(url: str, **kwargs) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, **kwargs) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


async def test_a_marketer_uses_the_dashboard(system, browser):
    system.config()
    await system.start("ingest", "dispatcher", "webhooks", "dashboard")
    ingest = f"{system.services['ingest'].url}/api/v1/leads"
    paid = await post(
        ingest,
        json={
            "name": "Анна",
            "phone": "+79161234567",
            "campaign_id": "amo-campaign",
            "yclid": "4781",
        },
    )
    boris = await post(
        ingest, json={"name": "Борис", "phone": "+79161234568", "campaign_id": "amo-campaign"}
    )
    unrouted = await post(ingest, json={"phone": "+79161234569", "campaign_id": "nowhere"})

    async def delivered():
        found = rows(system.db_path, "SELECT * FROM leads WHERE id = ?", (paid["lead_id"],))
        return found[0]["crm_lead_id"] if found[0]["status"] == "sent_to_crm" else None

    crm_id = await wait_for_async(delivered, timeout=20)
    await won(system, crm_id, "15000")
    await won(system, "99999999", "45000")  # none of our leads: kept for a person to attach
    await wait_for_async(failures(system.db_path, 1), timeout=20)
    night = await lead_at(system.db_path, local(MOSCOW, 1, 0, 30))  # yesterday, 00:30 Moscow

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dashboard = system.services["dashboard"].url
    page = await browser.new_page(viewport={"width": 1366, "height": 1000})
    await page.goto(f"{dashboard}/admin")
    assert "/login" in page.url
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", DASHBOARD_PASSWORD)
    await page.click("button[type=submit] >> text=Войти")
    await page.wait_for_url(f"{dashboard}/admin")

    row = page.locator('tr[data-campaign="amo-campaign"]')
    assert await row.locator(".leads").inner_text() == "2"
    assert await row.locator(".payments").inner_text() == "1"
    assert await row.locator(".revenue").inner_text() == "15\xa0000\xa0₽"
    assert await card(page, "leads") == "4"  # the 30 days: ours and the night's
    await page.screenshot(path=ARTIFACTS / "admin.png", full_page=True)
    await a_marketer_picks_periods(page, system.db_path)
    await the_night_lead_is_on_its_moscow_day(page, dashboard, system.db_path, night)
    await page.goto(f"{dashboard}/admin")

    await page.click(f'a[href="/admin/leads/{paid["lead_id"]}"] >> nth=0')
    await page.wait_for_url(f"**/admin/leads/{paid['lead_id']}")
    await a_person_reads_the_lead_card(page, system.db_path, paid["lead_id"], crm_id)

    await page.goto(f"{dashboard}/admin/leads/{unrouted['lead_id']}")
    await page.click("#send-again")
    await page.wait_for_url(f"**/admin/leads/{unrouted['lead_id']}")
    assert "снова поставлена в очередь" in await page.locator("#flash").inner_text()
    await wait_for_async(failures(system.db_path, 2), timeout=20)  # unrouted: it fails again

    await page.click("nav >> text=Задачи")
    await page.wait_for_url("**/admin/tasks")
    row = page.locator("tr[data-task] >> nth=0")
    assert "nowhere" in await row.locator(".campaign").inner_text()
    await page.click("tr[data-task] button.retry >> nth=0")
    await page.wait_for_url("**/admin/tasks")
    assert "снова в очереди" in (await page.locator("#flash").inner_text()).lower()
    await wait_for_async(failures(system.db_path, 3), timeout=20)
    await page.screenshot(path=ARTIFACTS / "tasks.png", full_page=True)

    await page.click("#switch-language")
    await page.wait_for_url("**/admin/tasks")
    assert "Retry all failed" in await page.content()
    await page.goto(f"{dashboard}/admin")
    assert "Leads of the period" in await page.content()  # remembered across pages
    await page.screenshot(path=ARTIFACTS / "admin-en.png", full_page=True)
    await page.close()

    pages = {
        "lead": f"/admin/leads/{paid['lead_id']}",
        "lead-failed": f"/admin/leads/{unrouted['lead_id']}",
        "tasks": "/admin/tasks",
        "payments": "/admin/payments",
        "leads": "/admin/leads",
        "connections": "/admin/connections",
        "error": "/admin/leads/no-such-lead",
        "overview": "/admin",
        "overview-yesterday": "/admin?period=yesterday",
        "utm": "/admin/reports/utm",
        "utm-none": "/admin/reports/utm?utm_source=&utm_medium=",  # the leads without UTM
        "days": "/admin/reports/days",
        "audit": "/admin/audit",  # the admin's login, logouts and exports above
    }
    for lang in ("ru", "en"):
        for width in WIDTHS:
            await every_page_fits(browser, dashboard, lang, width, pages)
    await a_person_finds_a_lead_and_exports(browser, dashboard, system.db_path, boris["lead_id"])


async def lead_at(db_path: Path, moment: datetime) -> str:
    """A lead stored as having come at `moment` (the services' clocks cannot be moved):
    written through the store, as intake writes it, then dated."""
    store = await open_store(str(db_path), 5.0, zone=MOSCOW)
    lead_id = str(uuid7())

    def unit(tx):
        lead = NewLead(campaign_id="night", name="Ночной", phone="+79160000030")
        event = tx.events.append(lead_id, 0, LeadCreated(lead, False))
        at = stored(moment)
        tx.sql.run("UPDATE events SET created_at = ? WHERE position = ?", (at, event.position))
        tx.project(replace(event, created_at=at))

    await store.write(unit)
    await store.close()
    return lead_id


def moscow_days(first: date, last: date) -> tuple[str, str]:
    """The stored (UTC) bounds of Moscow days `first`..`last`, computed here by hand."""
    since = datetime.combine(first, time(), MOSCOW).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(), MOSCOW).astimezone(UTC)
    return stored(since), stored(until)


def counted(db_path, first: date, last: date) -> dict[str, int]:
    """The database's leads, sales and revenue (whole roubles) of Moscow days first..last."""
    since, until = moscow_days(first, last)
    [leads] = rows(
        db_path,
        "SELECT count(*) AS n FROM leads WHERE created_at >= ? AND created_at < ?",
        (since, until),
    )
    [sales] = rows(
        db_path,
        "SELECT count(*) AS n, coalesce(sum(CAST(payment_amount AS REAL)), 0) AS money"
        " FROM leads WHERE paid_at >= ? AND paid_at < ?",
        (since, until),
    )
    return {"leads": leads["n"], "sales": sales["n"], "revenue": int(sales["money"])}


async def card(page, key: str) -> str:
    return await page.locator(f'[data-card="{key}"] .value').inner_text()


async def cards(page) -> dict[str, int]:
    """The headline cards' leads, sales and revenue, read as numbers."""
    found = {key: await card(page, key) for key in ("leads", "sales", "revenue")}
    return {key: int(re.sub(r"\D", "", value) or 0) for key, value in found.items()}


async def a_marketer_picks_periods(page, db_path) -> None:
    """Each preset of the picker clicked, then a custom range typed: the cards say what the
    database says for those Moscow days."""
    today = clock.now().astimezone(MOSCOW).date()
    spans = {"today": 1, "yesterday": 1, "7": 7, "30": 30, "90": 90}
    for preset, days in spans.items():
        await page.click(f'#period-picker a[data-period="{preset}"]')
        await page.wait_for_url(f"**/admin?*period={preset}*")
        last = today - timedelta(days=1) if preset == "yesterday" else today
        first = last - timedelta(days=days - 1)
        assert await cards(page) == counted(db_path, first, last), preset
    first = today - timedelta(days=1)
    await page.fill("#period-picker input[name=date_from]", first.isoformat())
    await page.fill("#period-picker input[name=date_to]", today.isoformat())
    await page.click("#period-picker button[type=submit]")
    await page.wait_for_url("**/admin?*date_from=*")
    assert await cards(page) == counted(db_path, first, today)
    await page.screenshot(path=ARTIFACTS / "admin-custom.png", full_page=True)


async def the_night_lead_is_on_its_moscow_day(page, dashboard: str, db_path, lead_id) -> None:
    """00:30 Moscow is 21:30 UTC the day before: the lead is on the Moscow day in the
    overview (yesterday), the per-day table, the leads list's date filter and the exports."""
    day = clock.now().astimezone(MOSCOW).date() - timedelta(days=1)
    [lead] = rows(db_path, "SELECT created_at FROM leads WHERE id = ?", (lead_id,))
    assert clock.parse(lead["created_at"]).astimezone(UTC).date() == day - timedelta(days=1)
    await page.click('#period-picker a[data-period="yesterday"]')
    await page.wait_for_url("**/admin?*period=yesterday*")
    night = page.locator('tr[data-campaign="night"] .leads')
    assert (await night.inner_text()).split()[0] == "1"
    await page.screenshot(path=ARTIFACTS / "admin-yesterday.png", full_page=True)
    expected = counted(db_path, day, day)

    csv_lines = await download_csv(page, "#leads-csv")
    assert [line["Номер заявки"] for line in csv_lines].count(lead_id) == 1
    assert len(csv_lines) == expected["leads"]
    [mine] = [line for line in csv_lines if line["Номер заявки"] == lead_id]
    assert mine["Создана (Europe/Moscow)"].startswith(f"{day} 00:30"), mine
    sheet = await download_xlsx(page, "#leads-xlsx")
    assert [r["Номер заявки"] for r in sheet].count(lead_id) == 1
    [created] = [r["Создана (Europe/Moscow)"] for r in sheet if r["Номер заявки"] == lead_id]
    assert (created.date(), created.hour, created.minute) == (day, 0, 30)
    [only] = await download_xlsx(page, "#days-xlsx")
    assert list(only.values())[0] in (day, datetime.combine(day, time()))
    assert only["Заявки"] == expected["leads"]
    campaigns = {r["Кампания"]: r for r in await download_xlsx(page, "#campaigns-xlsx")}
    assert campaigns["night"]["Заявки"] == 1
    days_csv = await download_csv(page, "#days-csv")
    assert int(days_csv[0]["Заявки"]) == expected["leads"]

    await page.goto(f"{dashboard}/admin/reports/days?date_from={day}&date_to={day}")
    first_cell = await page.locator("#days tbody tr >> nth=0").locator("td >> nth=0").inner_text()
    assert int(re.sub(r"\D", "", first_cell)) == expected["leads"]
    await page.screenshot(path=ARTIFACTS / "days-yesterday.png", full_page=True)
    await page.goto(f"{dashboard}/admin/leads?date_from={day}&date_to={day}")
    assert lead_id in await page.locator("tr[data-lead]").evaluate_all(
        "rows => rows.map(r => r.dataset.lead)"
    )
    after = day + timedelta(days=1)
    await page.goto(f"{dashboard}/admin/leads?date_from={after}&date_to={after}")
    assert lead_id not in await page.locator("tr[data-lead]").evaluate_all(
        "rows => rows.map(r => r.dataset.lead)"
    )


async def download_csv(page, link: str) -> list[dict[str, str]]:
    async with page.expect_download() as info:
        await page.click(link)
    text = Path(await (await info.value).path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


async def download_xlsx(page, link: str) -> list[dict[str, object]]:
    """The sheet's rows by its header, without a totals line."""
    async with page.expect_download() as info:
        await page.click(link)
    data = Path(await (await info.value).path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [cell.value for cell in sheet[1]]
    found = [
        dict(zip(header, r, strict=False)) for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    return [r for r in found if r[header[0]] not in ("Итого", "Total", None)]


async def a_person_reads_the_lead_card(page, db_path, lead_id: str, crm_id: str) -> None:
    """The name as the title, the phone to call, the history as sentences at Moscow times;
    the technical view only when asked for."""
    assert await page.locator("#lead-title").inner_text() == "Анна"
    assert await page.locator("#lead-phone").get_attribute("href") == "tel:+79161234567"
    history = await page.locator("#history").inner_text()
    assert f"Передана в amoCRM как сделка {crm_id}" in history
    assert "Оплачена: 15\xa0000\xa0₽" in history
    [created] = rows(
        db_path,
        "SELECT created_at FROM events WHERE type = 'LEAD_CREATED' AND stream_id = ?",
        (lead_id,),
    )
    moment = clock.parse(created["created_at"]).astimezone(MOSCOW)
    assert f"{moment:%d.%m.%Y}, {moment:%H:%M} MSK" in history
    assert "LEAD_CREATED" not in history
    assert not await page.locator("#timeline").is_visible()  # under the disclosure
    await page.click("#technical > summary")
    assert "LEAD_CREATED" in await page.locator("#timeline").inner_text()
    assert "совпадает" in await page.locator("#agreement").inner_text()


async def a_person_finds_a_lead_and_exports(browser, dashboard: str, db_path, lead_id: str):
    """The phone as the client dictated it finds the lead; the found set downloads as XLSX
    (typed cells) and CSV; the unmatched payment finds its lead by name and is attached."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await page.goto(f"{dashboard}/login")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", DASHBOARD_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{dashboard}/admin")
    await page.goto(f"{dashboard}/admin/leads")
    await page.fill("#lead-search", "8 (916) 123-45-68")
    await page.press("#lead-search", "Enter")
    await page.wait_for_url("**/admin/leads?*")
    assert await page.locator("#leads-total").inner_text() == "1 заявка"
    assert await page.locator("tr[data-lead]").get_attribute("data-lead") == lead_id
    await page.screenshot(path=ARTIFACTS / "leads-search.png", full_page=True)

    async with page.expect_download() as info:
        await page.click("#export-xlsx")
    download = await info.value
    assert download.suggested_filename == "leads.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active
    header = [cell.value for cell in sheet[1]]
    [row] = list(sheet.iter_rows(min_row=2, values_only=True))
    assert row[header.index("Номер заявки")] == lead_id
    assert isinstance(row[header.index("Создана (Europe/Moscow)")], datetime)
    async with page.expect_download() as info:
        await page.click("#export-csv")
    text = Path(await (await info.value).path()).read_text(encoding="utf-8-sig")
    [line] = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert (line["Номер заявки"], line["Телефон"]) == (lead_id, "'+79161234568")

    await page.goto(f"{dashboard}/admin/payments")
    await page.fill("tr[data-payment] input[name=q]", "борис")
    await page.click("tr[data-payment] button.find")
    await page.wait_for_url("**/find?*")
    await page.screenshot(path=ARTIFACTS / "payments-find.png", full_page=True)
    await page.click("#candidates button.attach")
    await page.wait_for_url(f"{dashboard}/admin/payments")
    assert "привязана к заявке «Борис»" in await page.locator("#flash").inner_text()
    [lead] = rows(db_path, "SELECT status, payment_amount FROM leads WHERE id = ?", (lead_id,))
    assert (lead["status"], lead["payment_amount"]) == ("paid", "45000.00")
    await context.close()


async def won(system, crm_lead_id: str, price: str) -> None:
    """amoCRM's webhook: the deal of this CRM lead is won for `price`."""
    hook = urlencode(
        {
            "leads[status][0][id]": crm_lead_id,
            "leads[status][0][status_id]": "142",
            "leads[status][0][price]": price,
        }
    )
    await post(
        f"{system.services['webhooks'].url}/api/v1/webhooks/crm/amo?token={AMO_WEBHOOK_TOKEN}",
        data=hook,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def failures(db_path, count: int):
    async def seen() -> bool:
        found = rows(db_path, "SELECT 1 FROM events WHERE type = 'LEAD_CRM_DELIVERY_FAILED'")
        return len(found) >= count

    return seen


async def every_page_fits(browser, dashboard: str, lang: str, width: int, paths) -> None:
    """The login page and each page given, in one language at one width, are no wider than
    the screen; a screenshot of each."""
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(f"{dashboard}/login")
    if lang == "en":
        await page.click("#switch-language")
        await page.wait_for_url("**/login*")
    await fits(page, f"login-{lang}-{width}")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", DASHBOARD_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{dashboard}/admin")
    for name, path in paths.items():
        await page.goto(f"{dashboard}{path}")
        await fits(page, f"{name}-{lang}-{width}")
    await context.close()


async def fits(page, name: str) -> None:
    wide = await page.evaluate("document.documentElement.scrollWidth")
    screen = await page.evaluate("window.innerWidth")
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    assert wide <= screen, f"{name} is {wide} px wide on a {screen} px screen"
