"""Alert messages in the configured language: Russian by default, English when asked; the
contact masked unless the channel shows it in full."""

from common.alerts.messages import message_for
from common.alerts.subjects import AlertKind
from common.alerts.words import WORDS
from common.config import AlertsSettings
from common.contacts import mask_phone
from common.model import Lead, LeadStatus
from common.tasks import SendAlert

LEAD = Lead(
    id="lead-1",
    status=LeadStatus.NEW,
    campaign_id="spring",
    name="Иван Петров",
    phone="+79991234567",
    utm_source="yandex",
)


def alert(kind: AlertKind, problem: str = "") -> SendAlert:
    return SendAlert(kind=kind, channel="telegram", to="1", key="crm:amo", problem=problem)


def test_russian_is_the_default_language():
    assert AlertsSettings().language == "ru"
    message = message_for(alert(AlertKind.NEW_LEAD), LEAD, LEAD.id, full=False)
    assert message.subject == "Новая заявка: spring"
    assert f"Телефон: {mask_phone(LEAD.phone)}" in message.lines
    assert "Источник: yandex" in message.lines
    assert LEAD.phone not in message.plain()


def test_english_when_asked_and_in_full_when_the_channel_shows_it():
    message = message_for(alert(AlertKind.NEW_LEAD), LEAD, LEAD.id, full=True, language="en")
    assert message.subject == "New lead: spring"
    assert f"Phone: {LEAD.phone}" in message.lines


def test_a_problem_and_its_recovery_keep_the_reported_detail():
    told = message_for(alert(AlertKind.PROBLEM, "amo: 401 Unauthorized"), None, "", False)
    over = message_for(alert(AlertKind.RECOVERED, "amo: 401 Unauthorized"), None, "", False)
    assert told.subject == "⚠ leadrelay: amo: 401 Unauthorized"
    assert over.subject == "✅ leadrelay: снова работает: amo: 401 Unauthorized"


def test_every_language_has_every_word():
    assert set(WORDS["ru"]) == set(WORDS["en"])
