"""Erasing a lead's personal data from its page: an admin's button, a confirmation page with
a word to type and CSRF, then the lead page with a message and the erasure in its history
(both languages); staff are refused. The real app on both backends."""

from __future__ import annotations

from common.model import Role
from common.store.replay import verify
from services.dashboard.app import create_app
from tests.helpers import rows
from tests.integration.test_dashboard import csrf_of
from tests.integration.test_dashboard_users import PASSWORDS, add, dashboard_settings, log_in
from tests.integration.test_lead_card import section
from tests.unit.test_erasure import PHONE, every_text, full_history, traces_in


async def test_an_admin_erases_a_lead_after_typing_the_word(aiohttp_client, store, database):
    dash = await aiohttp_client(create_app(dashboard_settings(database)))
    await add(store, "anna", Role.ADMIN)
    lead_id = await store.write(full_history)
    assert (await log_in(dash, "anna", PASSWORDS["anna"])).status == 302
    card = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert f'href="/admin/leads/{lead_id}/erase"' in card

    confirm = await (await dash.get(f"/admin/leads/{lead_id}/erase")).text()
    assert "«удалить»" in confirm
    url = f"/admin/leads/{lead_id}/erase"
    wrong = {"csrf_token": csrf_of(confirm), "confirm": "да", "reason": "x"}
    refused = await dash.post(url, data=wrong, allow_redirects=False)
    assert refused.status == 422 and "ничего не удалено" in await refused.text()
    assert rows(database, "SELECT phone FROM leads") == [{"phone": PHONE}]
    no_csrf = await dash.post(url, data={"confirm": "удалить"}, allow_redirects=False)
    assert no_csrf.status == 403 and rows(database, "SELECT phone FROM leads") == [{"phone": PHONE}]

    form = {"csrf_token": csrf_of(confirm), "confirm": " Удалить ", "reason": f"письмо от {PHONE}"}
    done = await dash.post(url, data=form, allow_redirects=False)
    assert done.status == 302 and done.headers["Location"] == f"/admin/leads/{lead_id}"
    page = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert "Персональные данные заявки удалены" in section(page, "flash")
    assert "Персональные данные удалены (anna): письмо от [erased]" in section(page, "history")
    assert PHONE not in page and traces_in(every_text(database)) == []
    [audit] = rows(database, "SELECT actor, action, target FROM audit_log WHERE action = 'erase'")
    assert audit == {"actor": "anna", "action": "erase", "target": lead_id}
    assert await verify(store) == []

    english = await (
        await dash.get(f"/admin/leads/{lead_id}", headers={"Cookie": "lang=en"})
    ).text()
    assert "Personal data erased (anna): письмо от [erased]" in section(english, "history")
    again = await dash.post(url, data=form | {"confirm": "erase"})
    assert "уже удалены" in await again.text()  # harmless, and said


async def test_staff_see_no_button_and_are_refused(aiohttp_client, store, database):
    dash = await aiohttp_client(create_app(dashboard_settings(database)))
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    lead_id = await store.write(full_history)
    assert (await log_in(dash, "vera", PASSWORDS["vera"])).status == 302
    card = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert "/erase" not in card
    form = {"csrf_token": csrf_of(card), "confirm": "удалить"}
    refused = await dash.post(f"/admin/leads/{lead_id}/erase", data=form)
    assert refused.status == 403
    assert "Удалять персональные данные может только администратор" in await refused.text()
    assert rows(database, "SELECT phone FROM leads") == [{"phone": PHONE}]
    assert (await dash.get("/admin/leads/no-such-lead/erase")).status == 404
