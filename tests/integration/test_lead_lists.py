"""The leads list and its exports as a person uses them: one search box (a phone in any
notation, an e-mail in any case, a part of a name), the total, times in the dashboard's zone;
an unmatched payment attached by finding its lead; CSV and XLSX in the reader's language."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from common import clock
from common.config import Settings
from common.events import LeadSentToCrm, PaymentRegistered
from common.leads import LeadService
from common.model import NewLead
from services.dashboard.app import create_app
from tests.helpers import ago, rows, stored
from tests.integration.test_dashboard import API_TOKEN, PASSWORD, csrf, log_in

MOSCOW = ZoneInfo("Europe/Moscow")
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NBSP = "\xa0"


@pytest.fixture
async def dash(aiohttp_client, db_path):
    """The dashboard on this test's database, in Moscow time (the default zone)."""
    secrets = {"password": PASSWORD, "api_token": API_TOKEN, "secret_key": "k" * 40}
    return await aiohttp_client(create_app(Settings(database=db_path, dashboard=secrets)))


async def lead(store, pay: str | None = None, **fields) -> str:
    made = NewLead(**({"campaign_id": "spring"} | fields))
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, made))
    if pay:
        paid_at = stored(ago(days=1))
        sent, paid = (
            LeadSentToCrm("amo", crm_lead_id="7"),
            PaymentRegistered(Decimal(pay), "RUB", paid_at),
        )
        await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
        await store.write(lambda tx: LeadService.record(tx, lead_id, paid))
    return lead_id


async def clients(store) -> dict[str, str]:
    return {
        "ivan": await lead(
            store,
            name="Иван Петров",
            phone="+79161234567",
            email="Ivan@Example.ru",
            extra={"Бюджет": "100 000", "Когда": "сейчас"},
            pay="16500.50",
        ),
        "olga": await lead(store, name="Ольга", phone="+79160000002", extra={"Бюджет": "5"}),
        "anna": await lead(store, name="Анна", email="anna@mail.ru", campaign_id="autumn"),
    }


def listed(html: str) -> set[str]:
    return set(re.findall(r'<tr data-lead="([^"]+)"', html))


def total(html: str) -> int:
    return int(re.search(r'data-total="(\d+)"', html)[1])


@pytest.mark.parametrize(
    "typed", ["8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "9161234567"]
)
async def test_a_phone_in_any_notation_finds_the_lead(dash, store, typed):
    ids = await clients(store)
    await log_in(dash)
    html = await (await dash.get(f"/admin/leads?q={quote(typed)}")).text()
    assert listed(html) == {ids["ivan"]} and total(html) == 1
    assert f'value="{typed}"' in html  # the search is shown back as typed
    answer = await (await dash.get(f"/api/v1/leads?q={quote(typed)}", headers=AUTH)).json()
    assert [found["id"] for found in answer["leads"]] == [ids["ivan"]]
    assert answer["total"] == 1


async def test_an_email_in_any_case_and_a_part_of_a_name_find_their_leads(dash, store):
    ids = await clients(store)
    await log_in(dash)
    for typed, expected in (
        ("ivan@example.ru", {"ivan"}),
        ("IVAN@EXAMPLE.RU", {"ivan"}),
        ("ПЕТРОВ", {"ivan"}),
        ("анн", {"anna"}),
        ("mail.ru", {"anna"}),
        ("+7 916", {"ivan", "olga"}),
        ("nobody", set()),
    ):
        html = await (await dash.get(f"/admin/leads?q={quote(typed)}")).text()
        assert listed(html) == {ids[name] for name in expected}, typed
        assert total(html) == len(expected), typed


async def test_the_total_counts_every_match_not_the_page(dash, store, db_path):
    def many(tx):
        for n in range(53):
            LeadService.create_lead(tx, NewLead(campaign_id="a", phone=f"+7916{n:07d}"))

    await store.write(many)
    await log_in(dash)
    html = await (await dash.get("/admin/leads?campaign=a")).text()
    assert total(html) == rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 53
    assert len(listed(html)) == 50
    assert "53 заявки · показаны 1–50" in html and "offset=50" in html
    last = await (await dash.get("/admin/leads?campaign=a&offset=50")).text()
    assert len(listed(last)) == 3 and "показаны 51–53" in last and "offset=100" not in last
    answer = await (await dash.get("/api/v1/leads?limit=5&offset=50", headers=AUTH)).json()
    assert (answer["total"], len(answer["leads"]), answer["offset"]) == (53, 3, 50)


async def test_the_list_shows_times_in_the_dashboard_s_zone(dash, store, db_path):
    lead_id = await lead(store, name="Иван")
    [row] = rows(db_path, "SELECT created_at FROM leads WHERE id = ?", (lead_id,))
    moment = clock.parse(row["created_at"]).astimezone(MOSCOW)
    await log_in(dash)
    html = await (await dash.get("/admin/leads")).text()
    assert f"{moment:%d.%m.%Y}, {moment:%H:%M} MSK" in html
    assert row["created_at"][:16].replace("T", " ") not in html  # no UTC time shown


async def test_a_search_too_long_is_named_not_a_500(dash, store):
    await log_in(dash)
    resp = await dash.get(f"/admin/leads?q={'я' * 101}")
    assert resp.status == 422 and "Поиск: нужно не больше 100 знаков" in await resp.text()
    resp = await dash.get(f"/api/v1/leads?q={'я' * 101}", headers=AUTH)
    assert resp.status == 422 and (await resp.json())["detail"][0]["field"] == "q"


async def keep_payment(store) -> int:
    def keep(tx):
        return tx.unmatched.keep("amo", "555", "1200.00", "RUB", stored(ago(days=1)))

    return await store.write(keep)


async def test_an_unmatched_payment_is_attached_by_finding_its_lead(dash, store, db_path):
    ids = await clients(store)
    payment_id = await keep_payment(store)
    await log_in(dash)
    page = await dash.get(f"/admin/payments/{payment_id}/find?q={quote('8 916 000-00-02')}")
    html = await page.text()
    assert page.status == 200
    found = re.search(r'id="candidates">(.*?)</tr>', html, re.S)[1]
    assert "Нашлась 1 заявка" in found and "Ольга" in found
    assert re.findall(r'name="lead_id" value="([^"]+)"', found) == [ids["olga"]]

    token = await csrf(dash)
    url = f"/admin/payments/{payment_id}/attach"
    done = await dash.post(url, data={"csrf_token": token, "lead_id": ids["olga"]})
    assert done.status == 200 and "Оплата 1\xa0200\xa0₽ привязана к заявке «Ольга»" in (
        await done.text()
    )
    [paid] = rows(db_path, "SELECT status, payment_amount FROM leads WHERE id = ?", (ids["olga"],))
    assert (paid["status"], paid["payment_amount"]) == ("paid", "1200.00")


async def test_a_payment_s_lead_is_found_by_name_email_or_its_id(dash, store):
    ids = await clients(store)
    payment_id = await keep_payment(store)
    await log_in(dash)
    for typed, expected in (
        ("анна", [ids["anna"]]),
        ("ANNA@MAIL.RU", [ids["anna"]]),
        (ids["olga"], [ids["olga"]]),  # a lead's id, pasted as before, still finds it
    ):
        html = await (await dash.get(f"/admin/payments/{payment_id}/find?q={quote(typed)}")).text()
        assert re.findall(r'name="lead_id" value="([^"]+)"', html) == expected, typed
    html = await (await dash.get(f"/admin/payments/{payment_id}/find?q=nobody")).text()
    assert "По запросу «nobody» заявок не нашлось" in html
    assert (await dash.get("/admin/payments/12345678901234567890123/find?q=x")).status == 404
    too_long = await dash.get(f"/admin/payments/{payment_id}/find?q={'x' * 101}")
    assert too_long.status == 422


def read_csv(raw: bytes) -> list[dict[str, str]]:
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def moscow_time(db_path, lead_id: str, column: str = "created_at") -> datetime:
    [row] = rows(db_path, f"SELECT {column} FROM leads WHERE id = ?", (lead_id,))
    return clock.parse(row[column]).astimezone(MOSCOW).replace(tzinfo=None)


async def test_the_csv_is_in_the_reader_s_words_and_zone_with_the_answers(dash, store, db_path):
    ids = await clients(store)
    await log_in(dash)
    table = read_csv(await (await dash.get("/admin/leads.csv?q=%2B7916")).read())
    assert list(table[0])[:3] == ["Номер заявки", "Кампания", "Статус"]
    assert "Создана (Europe/Moscow)" in table[0] and "Оплачена (Europe/Moscow)" in table[0]
    assert list(table[0])[-2:] == ["Бюджет", "Когда"]  # the answers, the most common first
    ivan = next(r for r in table if r["Номер заявки"] == ids["ivan"])
    olga = next(r for r in table if r["Номер заявки"] == ids["olga"])
    created = moscow_time(db_path, ids["ivan"])
    assert ivan["Создана (Europe/Moscow)"] == f"{created:%Y-%m-%d %H:%M:%S}"
    paid = moscow_time(db_path, ids["ivan"], "paid_at")
    assert ivan["Оплачена (Europe/Moscow)"] == f"{paid:%Y-%m-%d %H:%M:%S}"
    assert (ivan["Статус"], ivan["Сумма оплаты"], ivan["Валюта оплаты"]) == (
        "оплачена",
        "16500,50",
        "RUB",
    )
    assert (ivan["Бюджет"], ivan["Когда"], olga["Бюджет"], olga["Когда"]) == (
        "100 000",
        "сейчас",
        "5",
        "",
    )
    assert ivan["Сумма ещё не указана"] == "нет" and ivan["E-mail"] == "Ivan@Example.ru"
    assert olga["Сумма ещё не указана"] == ""  # said of a payment alone


async def test_the_csv_in_english(dash, store):
    ids = await clients(store)
    await log_in(dash)
    dash.session.cookie_jar.update_cookies({"lang": "en"})
    table = read_csv(await (await dash.get("/admin/leads.csv?status=paid")).read())
    assert [r["Lead number"] for r in table] == [ids["ivan"]]
    [ivan] = table
    assert (ivan["Status"], ivan["Payment amount"], ivan["Amount not set yet"]) == (
        "paid",
        "16500.50",
        "no",
    )
    assert "Created (Europe/Moscow)" in ivan and list(ivan)[-2:] == ["Бюджет", "Когда"]


async def test_the_xlsx_has_typed_cells(dash, store, db_path):
    ids = await clients(store)
    await log_in(dash)
    resp = await dash.get("/admin/leads.xlsx?campaign=spring")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="leads.xlsx"' in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert int(resp.headers["Content-Length"]) == len(raw)
    sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Номер заявки", "Кампания", "Статус"] and header[-2:] == [
        "Бюджет",
        "Когда",
    ]
    column = {name: n for n, name in enumerate(header)}
    by_id = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(by_id) == {ids["ivan"], ids["olga"]}
    ivan = by_id[ids["ivan"]]
    created = ivan[column["Создана (Europe/Moscow)"]]
    # the second the CSV shows, never rounded up (created at :22.9996 is :22 in both)
    assert created.is_date and created.value == moscow_time(db_path, ids["ivan"]).replace(
        microsecond=0
    )
    amount = ivan[column["Сумма оплаты"]]
    assert amount.data_type == "n" and amount.value == pytest.approx(16500.50)
    assert "₽" in amount.number_format and "#,##0.00" in amount.number_format
    phone = ivan[column["Телефон"]]
    assert phone.data_type == "s" and phone.value == "+79161234567"  # text, not a number
    assert ivan[column["Статус"]].value == "оплачена"
    assert ivan[column["Сумма ещё не указана"]].value is False
    assert ivan[column["Бюджет"]].value == "100 000"
    olga = by_id[ids["olga"]]
    assert olga[column["Сумма оплаты"]].value is None and olga[column["Когда"]].value is None


async def test_the_xlsx_in_english_writes_its_money_format_and_keeps_a_formula_text(dash, store):
    evil = '=HYPERLINK("http://evil.example/","x")'
    await lead(store, name=evil, phone="+79161234567", pay="10")
    await log_in(dash)
    dash.session.cookie_jar.update_cookies({"lang": "en"})
    raw = await (await dash.get("/admin/leads.xlsx")).read()
    sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
    header = [cell.value for cell in sheet[1]]
    [row] = list(sheet.iter_rows(min_row=2))
    name = row[header.index("Name")]
    assert name.data_type == "s" and name.value == evil  # shown, never run
    amount = row[header.index("Payment amount")]
    assert amount.value == 10 and amount.number_format.startswith(f'"RUB"{NBSP}#,##0.00')
    assert sheet.title == "Leads"


async def test_exports_refuse_a_bad_filter_before_sending_anything(dash, store):
    await log_in(dash)
    for path in ("/admin/leads.csv", "/admin/leads.xlsx"):
        resp = await dash.get(f"{path}?date_from=yesterday")
        assert resp.status == 422, path
