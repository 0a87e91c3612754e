"""The dashboard as a person reads it: the lead card, honest signals about the queue and the
connections, actions that say what they did, and error pages in the reader's language."""

import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from common import clock
from common.config import Settings
from common.events import LeadCrmDeliveryFailed, LeadSentToCrm, PaymentRegistered
from common.leads import LeadService
from common.model import NewLead
from common.tasks import CheckUpload, SendToCrm
from services.dashboard.app import create_app
from tests.emulators.faults import Faults
from tests.helpers import ago, crm_connections, execute, rows, stored
from tests.integration.test_crm_duplicates import deliver_due
from tests.integration.test_dashboard import PASSWORD, csrf_of, log_in

MOSCOW = ZoneInfo("Europe/Moscow")
NBSP = "\xa0"
TOO_BIG = "12345678901234567890123"  # 23 digits: past any database integer


def config(database: str, amo_url: str = "https://shop.amocrm.ru") -> Settings:
    return Settings(
        database=database,
        dashboard={"password": PASSWORD, "secret_key": "k" * 40},
        crm=crm_connections(base_url=amo_url),
        routing={"default_crm": "amo"},
    )


@pytest.fixture
async def dash(aiohttp_client, db_path):
    return await aiohttp_client(create_app(config(db_path)))


async def english(dash) -> None:
    token = csrf_of(await (await dash.get("/admin/tasks")).text())
    await dash.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/admin"})


def local(stored_time: str) -> str:
    """How the card writes a stored UTC time in Russian: in Moscow, with the zone named."""
    moment = clock.parse(stored_time).astimezone(MOSCOW)
    return f"{moment:%d.%m.%Y}, {moment:%H:%M} MSK"


def section(html: str, element_id: str) -> str:
    """The inside of the element with this id, up to the end tag of its kind."""
    found = re.search(rf'<(\w+)[^>]* id="{element_id}"(.*?)</\1>', html, re.S)
    assert found, element_id
    return found[2]


async def olga(store) -> str:
    lead = NewLead(
        campaign_id="spring-sale",
        name="Ольга Петрова",
        phone="+79161234567",
        email="olga@example.ru",
        utm_source="yandex",
        utm_medium="cpc",
        yclid="4781234567",
        page_url="https://landing.example.ru/?yclid=4781234567",
        extra={"quiz_rooms": "2 комнаты", "quiz_budget": "до 5 млн"},
        warnings=[{"field": "email", "value": "olga@", "reason": "The part after the @ is bad"}],
    )
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    sent = LeadSentToCrm("amo", kind="amocrm", crm_lead_id="30000091")
    paid = PaymentRegistered(Decimal("16500"), "RUB", stored(ago(hours=3)), source="amo")
    await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
    await store.write(lambda tx: LeadService.record(tx, lead_id, paid))
    return lead_id


async def test_the_lead_card_speaks_to_a_person(dash, store):
    lead_id = await olga(store)
    await log_in(dash)
    html = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert '<h1 id="lead-title">Ольга Петрова</h1>' in html
    assert 'href="tel:+79161234567"' in html and "+7 916 123-45-67" in html
    assert 'href="mailto:olga@example.ru"' in html
    assert 'href="https://shop.amocrm.ru/leads/detail/30000091"' in html  # the deal in the CRM
    assert "Реклама в Яндекс Директе" in section(html, "about")
    assert f"16{NBSP}500{NBSP}₽" in section(html, "about")
    answers = section(html, "answers")
    assert "quiz_rooms" in answers and "2 комнаты" in answers and "до 5 млн" in answers
    assert "не похоже на адрес e-mail" in section(html, "lead-warnings")

    story = section(html, "history")
    events = rows(store.location, "SELECT type, created_at FROM events ORDER BY version")
    assert "Передана в amoCRM как сделка 30000091" in story
    assert f"Оплачена: 16{NBSP}500{NBSP}₽" in story
    for event in events:  # each at its Moscow time, the zone named
        assert local(event["created_at"]) in story
    for raw in ("LEAD_CREATED", "PAYMENT_REGISTERED", "crm_connection", "{"):
        assert raw not in story  # identifiers and JSON stay in the technical view

    technical = html[html.index('<details class="technical" id="technical">') :]
    assert 'id="lead-fields"' in technical and "PAYMENT_REGISTERED" in technical
    assert 'class="ok" id="agreement"' in technical  # stored vs rebuilt, under the disclosure

    await english(dash)
    html = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    story = section(html, "history")
    assert "Delivered to amoCRM as deal 30000091" in story
    assert f"Paid RUB{NBSP}16,500" in story
    assert "Yandex Direct ad" in html and "not an e-mail address" in html


async def test_a_lead_without_a_name_is_titled_by_its_phone(dash, store):
    lead = NewLead(campaign_id="c", phone="+79161234567")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    await log_in(dash)
    html = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert '<h1 id="lead-title">+7 916 123-45-67</h1>' in html
    assert "Без меток и без ссылки" in html and "mailto:" not in html


async def failed_lead(store, name: str = "Борис", complete_task: bool = False) -> str:
    """A lead the CRM never got: its delivery failed for good."""
    lead = NewLead(campaign_id="spring", name=name, phone="+79161234568")
    lead_id, task_id = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    failure = LeadCrmDeliveryFailed("amoCRM 'amo' answered HTTP 400: bad phone", "amo")
    await store.write(lambda tx: tx.tasks.claim_due(limit=1, lease=60))
    if complete_task:
        await store.write(lambda tx: tx.tasks.complete(task_id, {}))
    else:
        await store.write(lambda tx: tx.tasks.fail(task_id, failure.reason))
    await store.write(lambda tx: LeadService.record(tx, lead_id, failure))
    return lead_id


def open_deliveries(store, lead_id: str) -> list[dict]:
    return rows(
        store.location,
        "SELECT status, attempts FROM tasks WHERE lead_id = ? AND type = 'send_to_crm'"
        " AND status <> 'completed'",
        (lead_id,),
    )


async def test_send_again_requeues_the_failed_delivery_and_says_so(dash, store):
    lead_id = await failed_lead(store)
    await log_in(dash)
    page = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert 'id="send-again"' in page
    assert "Не доставлена в amoCRM: CRM отказала: HTTP 400" in section(page, "history")
    url = f"/admin/leads/{lead_id}/send-again"
    resp = await dash.post(url, data={"csrf_token": csrf_of(page)}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"/admin/leads/{lead_id}"
    assert open_deliveries(store, lead_id) == [{"status": "pending", "attempts": 0}]

    page = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert "Заявка снова поставлена в очередь на отправку в CRM" in section(page, "flash")
    assert 'id="send-again"' not in page and 'id="delivery-queued"' in page
    again = await (await dash.post(url, data={"csrf_token": csrf_of(page)})).text()
    assert "Отправлять нечего" in again  # queued already: nothing doubled
    assert open_deliveries(store, lead_id) == [{"status": "pending", "attempts": 0}]
    assert "Заявка снова" not in await (await dash.get(f"/admin/leads/{lead_id}")).text()


async def test_send_again_queues_a_delivery_for_a_failed_lead_with_no_open_task(dash, store):
    lead_id = await failed_lead(store, complete_task=True)
    await log_in(dash)
    token = csrf_of(await (await dash.get(f"/admin/leads/{lead_id}")).text())
    await dash.post(f"/admin/leads/{lead_id}/send-again", data={"csrf_token": token})
    assert open_deliveries(store, lead_id) == [{"status": "pending", "attempts": 0}]


async def test_the_tasks_page_tells_what_is_due_from_what_waits_on_purpose(dash, store):
    lead_id = await failed_lead(store, name="Анна")
    phone_only = NewLead(campaign_id="autumn", phone="+79160000067")
    other, retry = await store.write(lambda tx: LeadService.create_lead(tx, phone_only))
    await store.write(lambda tx: tx.tasks.claim_due(limit=5, lease=60))
    await store.write(lambda tx: tx.tasks.retry_later(retry, 300, "amoCRM did not answer in time"))
    execute(store.location, "UPDATE tasks SET attempts = 3 WHERE id = ?", (retry,))  # keeps failing
    await store.write(lambda tx: tx.tasks.enqueue(CheckUpload("u-1"), delay=600))
    await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), lead_id=other))  # due now
    await log_in(dash)
    html = await (await dash.get("/admin/tasks")).text()
    queue = section(html, "queue")
    assert "К выполнению сейчас: 1 задача" in queue
    assert "Ждут своего времени 2 задачи: 1 повтор после ошибки, 1 проверка загрузки в Метрике" in (
        " ".join(queue.split())
    )
    assert "С ошибкой 1 задача" in queue

    [task] = rows(store.location, "SELECT id FROM tasks WHERE status = 'failed'")
    failed = re.search(rf'data-task="{task["id"]}">(.*?)</tr>', html, re.S)[1]
    assert "Анна" in failed and "spring" in failed and "amoCRM · amo" in failed
    assert f'href="/admin/leads/{lead_id}"' in failed and "CRM отказала: HTTP 400" in failed
    waiting = re.search(rf'data-task="{retry}">(.*?)</tr>', html, re.S)[1]
    assert (
        "+7********67" in waiting and "autumn" in waiting and "CRM не ответила вовремя" in waiting
    )

    token = csrf_of(html)
    done = await (await dash.post("/admin/tasks/retry-failed", data={"csrf_token": token})).text()
    assert "Снова в очереди: 1 задача" in section(done, "flash")
    none = await (await dash.post("/admin/tasks/retry-failed", data={"csrf_token": token})).text()
    assert "Задач с ошибками не было" in none
    await english(dash)
    retried = await dash.post(f"/admin/tasks/{retry}/retry", data={"csrf_token": token})
    assert f"Task {retry} has not failed: nothing to retry" in await retried.text()


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Faults(status=400), "CRM отказала: HTTP 400"),
        (Faults(status=401), "CRM отклонила ключ доступа (HTTP 401)"),
        (Faults(status=503), "ошибка на стороне CRM (HTTP 503)"),
        (Faults(hang=True), "CRM не ответила вовремя"),
    ],
)
async def test_a_connections_banner_says_what_happened(aiohttp_client, store, amo, fault, said):
    """The real delivery meets amoCRM refusing, rejecting the token, failing or silent; the
    banner names that, not "not answering" for all of them."""
    settings = config(store.location, amo.url)
    lead = NewLead(campaign_id="spring", name="Анна", phone="+79161234567")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    amo.faults = fault
    # The CRM's time-out short only where the CRM hangs: elsewhere a loaded machine's slow
    # answer must not read as silence.
    timeout = 0.3 if fault.hang else 5.0
    for _ in range(3):  # a temporary failure counts once a task has been tried three times
        await deliver_due(settings, store, timeout=timeout)
    dash = await aiohttp_client(create_app(settings))
    await log_in(dash)
    html = await (await dash.get("/admin/connections")).text()
    banner = re.search(r'data-connection="amo">(.*?)</section>', html, re.S)[1]
    assert f"amo: {said} — 1 заявка не доставлена" in banner
    overview = await (await dash.get("/admin")).text()
    assert "не отвечает" not in overview and "Подключение amo: 1 задача с ошибкой" in overview
    if fault.status == 400:  # a refusal is final: the card says it and offers to send again
        card = await (await dash.get(f"/admin/leads/{lead_id}")).text()
        assert f"Не доставлена в amoCRM: {said}" in card and 'id="send-again"' in card


async def test_leads_routed_to_no_crm_have_their_own_banner(aiohttp_client, store):
    settings = Settings(
        database=store.location, dashboard={"password": PASSWORD, "secret_key": "k" * 40}
    )
    lead = NewLead(campaign_id="spring", phone="+79161234567")
    await store.write(lambda tx: LeadService.create_lead(tx, lead))
    await deliver_due(settings, store)
    dash = await aiohttp_client(create_app(settings))
    await log_in(dash)
    html = await (await dash.get("/admin/connections")).text()
    assert "1 заявка не доставлена: для её кампании не выбрана CRM" in section(html, "unrouted")


async def test_error_pages_are_html_for_a_browser_and_json_for_the_api(dash, store):
    await log_in(dash)
    lead = await dash.get("/admin/leads/nope")
    html = await lead.text()
    assert lead.status == 404 and lead.content_type == "text/html"
    assert "Заявка не найдена" in html and "does not exist" not in section(html, "error")
    assert lead.headers["X-Frame-Options"] == "DENY"  # the page keeps the security headers
    page = await dash.get("/admin/nowhere")
    assert page.status == 404 and "Страница не найдена" in await page.text()
    wrong = await dash.get("/admin/tasks/retry-failed")
    assert wrong.status == 405 and "POST" in wrong.headers["Allow"]
    assert "Так эту страницу не открыть" in await wrong.text()
    bad = await dash.get("/admin/leads.csv?date_from=yesterday")
    assert bad.status == 422 and "<b>С даты</b>: нужна дата ГГГГ-ММ-ДД" in await bad.text()

    api = await dash.get("/api/v1/leads/nope")
    assert api.status == 404 and (await api.json())["error"] == "lead_not_found"
    asked = await dash.get("/admin/leads/nope", headers={"Accept": "application/json"})
    assert (await asked.json())["error"] == "lead_not_found"

    await english(dash)
    html = await (await dash.get("/admin/leads/nope")).text()
    assert "Lead not found" in html and "There is no such lead" in html


async def test_too_many_logins_is_a_page_that_says_how_long_to_wait(dash):
    for _ in range(5):
        await log_in(dash, password="nope")
    resp = await log_in(dash, password="nope")
    html = await resp.text()
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    wait = int(resp.headers["Retry-After"])
    assert "Слишком много попыток" in html
    assert f"Подождите {wait} секунд" in section(html, "error")  # секунду, секунды or секунд


async def test_a_payment_or_task_id_too_large_for_the_database_is_a_404(dash, store):
    """23 digits in the attach form's address answered 500 (an integer past SQLite's)."""
    await log_in(dash)
    token = csrf_of(await (await dash.get("/admin/payments")).text())
    for path in (f"/admin/payments/{TOO_BIG}/attach", f"/admin/tasks/{TOO_BIG}/retry"):
        resp = await dash.post(path, data={"csrf_token": token, "lead_id": "x"})
        assert resp.status == 404, path
        assert "Страница не найдена" in await resp.text()
        asked = await dash.post(
            path, data={"csrf_token": token}, headers={"Accept": "application/json"}
        )
        assert (asked.status, (await asked.json())["error"]) == (404, "not_found")


async def test_the_payments_page_shows_money_and_times_in_the_readers_terms(dash, store):
    paid_at = ago(days=1)

    def keep(tx):
        return tx.unmatched.keep("amo", "555", "45000.00", "RUB", stored(paid_at))

    payment_id = await store.write(keep)
    await log_in(dash)
    html = await (await dash.get("/admin/payments")).text()
    row = re.search(rf'data-payment="{payment_id}">(.*?)</tr>', html, re.S)[1]
    assert f"45{NBSP}000{NBSP}₽" in row and local(stored(paid_at)) in row
    assert 'href="https://shop.amocrm.ru/leads/detail/555"' in row
    assert "Время: MSK" in html  # the zone, named once in the header too
