"""A Telegram chat that refuses our bot, on the dashboard: the Connections page says so with
what Telegram said and since when (in the dashboard's zone), the overview names it, and an
admin (never staff, never without the form's token) sends there again, which is recorded in
the audit log; the real app on a real database, Telegram emulated on a real socket."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from common.alerts import raising
from common.alerts.channels import Channels
from common.alerts.messages import Message
from common.alerts.subjects import Channel, Destination
from common.config import Settings
from common.health import Health
from common.model import Role
from common.store.alerts import ChatState
from common.tasks import SendAlert
from services.dashboard.app import create_app
from services.dashboard.i18n import translator
from services.dispatcher.alerts import AlertSending
from services.dispatcher.app import create_app as dispatcher_app
from tests.helpers import rows
from tests.integration.alerting import TOKEN, telegram_emulator  # noqa: F401 (a fixture)
from tests.integration.test_audit import CLIENT, log_in, trail, via
from tests.integration.test_dashboard import csrf_of
from tests.integration.test_dashboard_users import PASSWORDS, add

CHAT = "-1001234"
KEY = f"alerts:telegram:{CHAT}"
UNBLOCK = f"/admin/alert-chats/{CHAT}/unblock"
MOSCOW = ZoneInfo("Europe/Moscow")  # the store's zone; +3 all year: UTC would show apart


def settings_of(database: str, url: str) -> Settings:
    telegram = {"base_url": url, "token": TOKEN, "chat_ids": [CHAT]}
    return Settings(
        database=database,
        dashboard={"password": "p", "secret_key": "k" * 40, "timezone": "Europe/Moscow"},
        alerts={"telegram": telegram},
    )


@pytest.fixture
async def dash(aiohttp_client, database, store, telegram):
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    return await aiohttp_client(create_app(settings_of(database, telegram[1])))


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def tell(store, telegram, http, database) -> None:
    """An alert to the chat, as the dispatcher sends it (common.alerts.channels), and the
    problem raised when it is refused (the dispatcher's health listener does that)."""
    settings = settings_of(database, telegram[1])
    outcome = await Channels(settings).send(
        store, http, Destination(Channel.TELEGRAM, CHAT), Message("hello")
    )
    if getattr(outcome, "blocked", False):
        await store.write(lambda tx: raising.problem(tx, settings.alerts, KEY, outcome.reason))


async def blocked(store) -> list[str]:
    return [chat.chat_id for chat in await store.read(lambda tx: tx.alerts.blocked_chats())]


async def post(dash, path: str, **headers: str):
    token = csrf_of(await (await dash.get("/admin/connections")).text())
    data = {"csrf_token": token}
    return await dash.post(path, data=data, headers=via() | headers, allow_redirects=False)


def alerts_queued(database: str) -> list[dict]:
    found = rows(database, "SELECT payload FROM tasks WHERE type = 'send_alert' ORDER BY id")
    return [json.loads(row["payload"]) for row in found]


async def test_an_admin_sees_a_blocked_chat_and_sends_there_again(
    dash, store, telegram, http, database
):
    state, _ = telegram
    state.blocked.add(CHAT)
    await tell(store, telegram, http, database)
    [chat] = await store.read(lambda tx: tx.alerts.blocked_chats())
    await log_in(dash, "anna", PASSWORDS["anna"])

    html = await (await dash.get("/admin/connections")).text()
    section = html[html.index('id="alert-channels"') :]
    assert f"Чат Telegram {CHAT} не принимает бота" in section
    assert "Forbidden: bot was blocked by the user" in section
    shown = translator("ru", MOSCOW).when(chat.since)
    assert shown in section and translator("ru").when(chat.since) not in section
    assert "Добавьте бота в чат снова" in section and f'action="{UNBLOCK}"' in section
    english = await (await dash.get("/admin/connections", headers={"Cookie": "lang=en"})).text()
    assert "Telegram said" in english and translator("en", MOSCOW).when(chat.since) in english

    overview = await (await dash.get("/admin")).text()
    named = re.search(
        rf'<p class="warning chat-blocked"[^>]*data-problem="{KEY}">(.*?)</p>', overview
    )
    assert CHAT in named[1] and 'href="/admin/connections#alert-channels"' in named[1]

    done = await post(dash, UNBLOCK)
    assert (done.status, done.headers["Location"]) == (302, "/admin/connections")
    page = await (await dash.get("/admin/connections")).text()
    assert f"Чат {CHAT} снова получает оповещения" in page
    assert "Все чаты Telegram принимают оповещения" in page
    assert await blocked(store) == []
    assert f'data-problem="{KEY}"' not in await (await dash.get("/admin")).text()
    [entry] = [r for r in trail(database) if r["action"] == "unblock_chat"]
    assert (entry["actor"], entry["target"], entry["address"]) == ("anna", CHAT, CLIENT)
    assert "bot was blocked" in entry["details"]
    # The alert is over: its recovery is the next message tried in the chat.
    assert not (await store.read(lambda tx: tx.alerts.get(KEY))).firing
    recovered = [a for a in alerts_queued(database) if a["kind"] == "recovered"]
    assert [(a["to"], a["key"]) for a in recovered] == [(CHAT, KEY)]

    # Telegram still refuses: the chat is tried, blocked again, and the problem told anew.
    calls = len(state.calls)
    await tell(store, telegram, http, database)
    assert len(state.calls) == calls + 1 and await blocked(store) == [CHAT]
    assert (await store.read(lambda tx: tx.alerts.get(KEY))).firing
    assert [a["kind"] for a in alerts_queued(database)][-1] == "problem"


async def test_staff_see_the_chat_but_may_not_send_there_again(
    dash, store, telegram, http, database
):
    telegram[0].blocked.add(CHAT)
    await tell(store, telegram, http, database)
    await log_in(dash, "vera", PASSWORDS["vera"])
    html = await (await dash.get("/admin/connections")).text()
    assert "Forbidden: bot was blocked by the user" in html
    assert UNBLOCK not in html and "Снова отправлять в чат может администратор" in html

    refused = await post(dash, UNBLOCK)
    assert refused.status == 403
    assert "Снова отправлять оповещения в чат может только администратор" in await refused.text()
    assert await blocked(store) == [CHAT]
    assert [r for r in trail(database) if r["action"] == "unblock_chat"] == []


async def test_without_the_form_s_token_nothing_is_unblocked(dash, store, telegram, http, database):
    telegram[0].blocked.add(CHAT)
    await tell(store, telegram, http, database)
    await log_in(dash, "anna", PASSWORDS["anna"])
    for form in ({}, {"csrf_token": "forged"}):
        resp = await dash.post(UNBLOCK, data=form, allow_redirects=False)
        assert resp.status == 403
    assert await blocked(store) == [CHAT]


async def test_an_unknown_chat_is_a_404_and_an_open_one_is_left_as_it_is(dash, store, database):
    await log_in(dash, "anna", PASSWORDS["anna"])
    for path in ("/admin/alert-chats/-999/unblock", f"/admin/alert-chats/{'9' * 80}/unblock"):
        page = await post(dash, path)
        assert page.status == 404 and page.content_type == "text/html"
        asked = await post(dash, path, Accept="application/json")
        assert (asked.status, (await asked.json())["error"]) == (404, "not_found")

    open_chat = await post(dash, UNBLOCK)  # configured, never blocked: nothing to do
    assert open_chat.status == 302
    assert f"Чат {CHAT} не заблокирован" in await (await dash.get("/admin/connections")).text()
    assert [r for r in trail(database) if r["action"] == "unblock_chat"] == []


async def test_unblocking_keeps_where_the_chat_moved(store):
    moved = ChatState(CHAT, moved_to="-1009999", blocked="Forbidden: bot was kicked")
    await store.write(lambda tx: tx.alerts.keep_chat(moved))
    assert await store.write(lambda tx: tx.alerts.unblock(CHAT))
    assert not await store.write(lambda tx: tx.alerts.unblock(CHAT))  # once
    assert not await store.write(lambda tx: tx.alerts.unblock("-42"))  # no such chat
    chat = await store.read(lambda tx: tx.alerts.chat(CHAT))
    assert (chat.moved_to, chat.blocked) == ("-1009999", None) and chat.since


async def test_a_running_dispatcher_s_health_clears_once_the_chat_takes_a_message(
    store, telegram, http, database
):
    """The dispatcher says on /healthz that alerts to a refusing chat stopped; once the chat
    is sent to again (the dashboard's unblock) and takes a message, it says so no longer."""
    state, url = telegram
    health = Health()
    sending = AlertSending(settings_of(database, url), store, http, health)

    async def alert() -> None:
        problem = SendAlert(kind="problem", channel="telegram", to=CHAT, key="x", problem="down")
        task_id = await store.write(lambda tx: tx.tasks.enqueue(problem))
        task = await store.read(lambda tx: tx.tasks.get(task_id))
        await sending.send(task)

    state.blocked.add(CHAT)
    await alert()
    assert KEY in health.reported and "stopped" in health.reported[KEY]
    state.blocked.discard(CHAT)
    assert await store.write(lambda tx: tx.alerts.unblock(CHAT))
    await alert()
    assert KEY not in health.reported


async def test_a_dispatcher_started_with_a_blocked_chat_says_so_on_healthz(
    aiohttp_client, store, telegram, database
):
    await store.write(lambda tx: tx.alerts.keep_chat(ChatState(CHAT, blocked="Forbidden")))
    client = await aiohttp_client(dispatcher_app(settings_of(database, telegram[1])))
    answer = await client.get("/healthz")
    assert answer.status == 503
    assert f"Telegram chat {CHAT}: Forbidden" in await answer.text()
    await store.write(lambda tx: tx.alerts.unblock(CHAT))
    restarted = await aiohttp_client(dispatcher_app(settings_of(database, telegram[1])))
    assert CHAT not in await (await restarted.get("/healthz")).text()
