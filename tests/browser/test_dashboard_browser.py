"""A person in headless Chromium: log in, read the numbers, open a lead, retry, switch language.

Screenshots land in test-artifacts/browser/.
"""

from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from playwright.async_api import async_playwright

from tests.e2e.system import AMO_WEBHOOK_TOKEN, DASHBOARD_PASSWORD
from tests.helpers import rows, wait_for_async

CHROMIUM = "/usr/bin/chromium"
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
    await post(
        ingest, json={"name": "Борис", "phone": "+79161234568", "campaign_id": "amo-campaign"}
    )
    await post(ingest, json={"phone": "+79161234569", "campaign_id": "nowhere"})

    async def delivered():
        found = rows(system.db_path, "SELECT * FROM leads WHERE id = ?", (paid["lead_id"],))
        return found[0]["crm_lead_id"] if found[0]["status"] == "sent_to_crm" else None

    crm_id = await wait_for_async(delivered, timeout=20)
    hook = urlencode(
        {
            "leads[status][0][id]": crm_id,
            "leads[status][0][status_id]": "142",
            "leads[status][0][price]": "15000",
        }
    )
    await post(
        f"{system.services['webhooks'].url}/api/v1/webhooks/crm/amo?token={AMO_WEBHOOK_TOKEN}",
        data=hook,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    async def failed_task():
        return rows(system.db_path, "SELECT id FROM tasks WHERE status = 'failed'")

    [failed] = await wait_for_async(failed_task, timeout=20)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dashboard = system.services["dashboard"].url
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    await page.goto(f"{dashboard}/admin")
    assert "/login" in page.url
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", DASHBOARD_PASSWORD)
    await page.click("button[type=submit] >> text=Войти")
    await page.wait_for_url(f"{dashboard}/admin")

    row = page.locator('tr[data-campaign="amo-campaign"]')
    assert await row.locator(".leads").inner_text() == "2"
    assert await row.locator(".payments").inner_text() == "1"
    assert await row.locator(".revenue").inner_text() == "15 000.00"
    assert await row.locator(".conversion").inner_text() == "50.0%"
    assert await page.locator("#total-leads").inner_text() == "3"
    await page.screenshot(path=ARTIFACTS / "admin.png", full_page=True)

    await page.click(f'a[href="/admin/leads/{paid["lead_id"]}"] >> nth=0')
    await page.wait_for_url(f"**/admin/leads/{paid['lead_id']}")
    timeline = await page.locator("#timeline").inner_text()
    assert "LEAD_CREATED" in timeline and "PAYMENT_REGISTERED" in timeline
    assert "совпадает" in await page.locator("#agreement").inner_text()
    await page.screenshot(path=ARTIFACTS / "lead.png", full_page=True)

    await page.click("nav >> text=Задачи")
    await page.wait_for_url("**/admin/tasks")
    await page.click(f'tr[data-task="{failed["id"]}"] button.retry')
    await page.wait_for_url("**/admin/tasks")

    async def retried():  # the unrouted lead fails again: a second failure event
        return (
            len(
                rows(system.db_path, "SELECT 1 FROM events WHERE type = 'LEAD_CRM_DELIVERY_FAILED'")
            )
            == 2
        )

    await wait_for_async(retried, timeout=20)
    await page.screenshot(path=ARTIFACTS / "tasks.png", full_page=True)

    await page.click("#switch-language")
    await page.wait_for_url("**/admin/tasks")
    assert "Retry all failed" in await page.content()
    await page.goto(f"{dashboard}/admin")
    assert "Total leads" in await page.content()  # remembered across pages
    await page.screenshot(path=ARTIFACTS / "admin-en.png", full_page=True)
