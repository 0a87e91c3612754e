"""Each alert channel against its emulator: Telegram's 429, blocked and migrated chats and
its HTML parse errors; SMTP's temporary and permanent refusals and a refused login."""

from __future__ import annotations

import aiohttp
import pytest

from common.alerts.channels import Channels
from common.alerts.messages import TELEGRAM_LIMIT, Message
from common.alerts.outcomes import Refused, Sent, TryLater
from common.alerts.subjects import Channel, Destination
from common.config import Settings
from tests.emulators.smtp import SmtpState, free_port, start_smtp
from tests.integration.alerting import TOKEN, telegram_emulator  # noqa: F401 (a fixture)

CHAT = "-1001"


@pytest.fixture
def smtp():
    state = SmtpState()
    controller, port = start_smtp(state)
    yield state, port
    controller.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def with_telegram(settings: Settings, url: str, chats=(CHAT,)) -> Settings:
    alerts = {"telegram": {"base_url": url, "token": TOKEN, "chat_ids": list(chats)}}
    return settings.model_copy(update={"alerts": Settings(alerts=alerts).alerts})


def with_email(settings: Settings, port: int, password: str = "smtp-secret-pw") -> Settings:
    email = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "username": "alerts",
        "password": password,
        "sender": "leadrelay@example.ru",
        "recipients": ["owner@example.ru"],
        "timeout": 5,
    }
    return settings.model_copy(update={"alerts": Settings(alerts={"email": email}).alerts})


TO_CHAT = Destination(Channel.TELEGRAM, CHAT)
TO_OWNER = Destination(Channel.EMAIL, "owner@example.ru")


async def test_telegram_gets_html_with_our_text_escaped(settings, store, telegram, http):
    state, url = telegram
    channels = Channels(with_telegram(settings, url))
    message = Message("Lead <b>bold</b> & co", ("comment: <script>",))
    assert await channels.send(store, http, TO_CHAT, message) == Sent()
    [sent] = state.received
    assert sent["parse_mode"] == "HTML" and sent["chat_id"] == CHAT
    assert sent["text"] == "<b>Lead &lt;b&gt;bold&lt;/b&gt; &amp; co</b>\ncomment: &lt;script&gt;"


async def test_a_long_text_is_cut_to_the_limit(settings, store, telegram, http):
    state, url = telegram
    channels = Channels(with_telegram(settings, url))
    message = Message("Long", ("x" * 10_000,))
    assert await channels.send(store, http, TO_CHAT, message) == Sent()
    plain_length = len(state.received[0]["text"]) - len("<b></b>")
    assert plain_length == TELEGRAM_LIMIT and state.received[0]["text"].endswith("…")


async def test_flood_control_waits_retry_after(settings, store, telegram, http):
    state, url = telegram
    state.flood, state.retry_after = 1, 7
    channels = Channels(with_telegram(settings, url))
    outcome = await channels.send(store, http, TO_CHAT, Message("hello"))
    assert isinstance(outcome, TryLater) and outcome.retry_after == 7
    assert await channels.send(store, http, TO_CHAT, Message("hello")) == Sent()


async def test_a_blocked_chat_is_refused_for_good_and_not_asked_again(
    settings, store, telegram, http
):
    state, url = telegram
    state.blocked.add(CHAT)
    channels = Channels(with_telegram(settings, url))
    outcome = await channels.send(store, http, TO_CHAT, Message("hello"))
    assert isinstance(outcome, Refused) and outcome.blocked and "blocked" in outcome.reason
    calls = len(state.calls)
    again = await channels.send(store, http, TO_CHAT, Message("hello"))
    assert isinstance(again, Refused) and len(state.calls) == calls  # remembered, not asked
    blocked = await store.read(lambda tx: tx.alerts.blocked_chats())
    assert [chat.chat_id for chat in blocked] == [CHAT]


async def test_a_migrated_chat_is_followed_and_remembered(settings, store, telegram, http):
    state, url = telegram
    state.migrated[CHAT] = "-1009999"
    channels = Channels(with_telegram(settings, url))
    assert await channels.send(store, http, TO_CHAT, Message("one")) == Sent("-1009999")
    assert await channels.send(store, http, TO_CHAT, Message("two")) == Sent()
    assert [m["chat_id"] for m in state.received] == ["-1009999", "-1009999"]
    assert [c["chat_id"] for c in state.calls] == [CHAT, "-1009999", "-1009999"]
    chat = await store.read(lambda tx: tx.alerts.chat(CHAT))
    assert chat.moved_to == "-1009999"  # the configured id still names the old chat


async def test_a_text_telegram_cannot_parse_is_sent_again_as_plain(settings, store, telegram, http):
    state, url = telegram
    state.reject_html = True
    channels = Channels(with_telegram(settings, url))
    assert await channels.send(store, http, TO_CHAT, Message("Lead <x>", ("a & b",))) == Sent()
    [sent] = state.received
    assert "parse_mode" not in sent and sent["text"] == "Lead <x>\na & b"


async def test_email_is_sent_with_the_subject_and_login(settings, store, smtp, http):
    state, port = smtp
    channels = Channels(with_email(settings, port))
    assert await channels.send(store, http, TO_OWNER, Message("Problem", ("details",))) == Sent()
    [letter] = state.received
    assert letter["Subject"] == "Problem" and letter["To"] == "owner@example.ru"
    assert state.logins == ["alerts"]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("451 4.3.0 Requested action aborted: try later", TryLater),
        ("550 5.1.1 No such user", Refused),
    ],
)
async def test_smtp_refusals_are_temporary_or_permanent_by_their_code(
    settings, store, smtp, http, reply, kind
):
    state, port = smtp
    state.refuse_rcpt = reply
    channels = Channels(with_email(settings, port))
    outcome = await channels.send(store, http, TO_OWNER, Message("Problem"))
    assert isinstance(outcome, kind) and reply[:3] in outcome.reason
    assert state.received == []


async def test_a_refused_login_is_permanent_and_never_names_the_password(
    settings, store, smtp, http
):
    _, port = smtp
    channels = Channels(with_email(settings, port, password="wrong-password-xyz"))
    outcome = await channels.send(store, http, TO_OWNER, Message("Problem"))
    assert isinstance(outcome, Refused) and "535" in outcome.reason
    assert "wrong-password-xyz" not in outcome.reason


async def test_an_smtp_server_that_is_not_there_is_tried_again(settings, store, http):
    channels = Channels(with_email(settings, free_port()))
    outcome = await channels.send(store, http, TO_OWNER, Message("Problem"))
    assert isinstance(outcome, TryLater)
