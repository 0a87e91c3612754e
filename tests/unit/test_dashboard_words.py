"""The dashboard's words: real plural rules, every identifier in words in both languages,
money, numbers and times as each language writes them, times in the dashboard's zone."""

from datetime import UTC, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from babel import Locale

from common import clock
from common.config import AmoCrmConnection, Bitrix24Connection, GenericConnection
from common.model import LEAD_COLUMNS, EventType, LeadStatus, TaskStatus, TaskType
from services.dashboard import formats
from services.dashboard.i18n import CATALOGUE, LANGUAGES, Words
from tests.helpers import stored

MOSCOW = ZoneInfo("Europe/Moscow")
NBSP = "\xa0"
CONVERSIONS = ("uploaded", "skipped", "failed", "linked", "not_linked", "partly_linked")
KINDS = [
    get_args(c.model_fields["kind"].annotation)[0]
    for c in (AmoCrmConnection, Bitrix24Connection, GenericConnection)
]


@pytest.mark.parametrize(
    ("count", "said"),
    [
        (0, "0 задач"),
        (1, "1 задача"),
        (2, "2 задачи"),
        (4, "4 задачи"),
        (5, "5 задач"),
        (11, "11 задач"),
        (12, "12 задач"),
        (21, "21 задача"),
        (22, "22 задачи"),
        (111, "111 задач"),
        (1001, f"1{NBSP}001 задача"),
    ],
)
def test_russian_counts_take_their_plural_form(count, said):
    assert Words("ru")("failed_n", count=count) == f"С ошибкой {said}"


@pytest.mark.parametrize(("count", "said"), [(0, "0 tasks"), (1, "1 task"), (2, "2 tasks")])
def test_english_counts_take_their_plural_form(count, said):
    assert Words("en")("failed_n", count=count) == f"{said} failed"


def test_every_plural_entry_has_exactly_the_forms_its_language_has():
    for lang in LANGUAGES:
        forms = {*Locale.parse(lang).plural_form.tags, "other"}
        plurals = {k: v for k, v in CATALOGUE[lang].items() if not isinstance(v, str)}
        assert len(plurals) > 10
        for key, entry in plurals.items():
            assert set(entry) == forms, (lang, key)
            assert all("{count}" in text for text in entry.values()), (lang, key)


def test_both_languages_have_the_same_words():
    assert set(CATALOGUE["ru"]) == set(CATALOGUE["en"])
    for key, ru in CATALOGUE["ru"].items():
        assert isinstance(ru, str) == isinstance(CATALOGUE["en"][key], str), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_identifier_has_a_word_in_each_language(lang):
    t = Words(lang)
    named = {
        "status": list(LeadStatus),
        "event": list(EventType),
        "tasktype": list(TaskType),
        "taskstatus": list(TaskStatus),
        "field": list(LEAD_COLUMNS),
        "kind": KINDS,
        "conversion": CONVERSIONS,
    }
    for kind, values in named.items():
        for value in values:
            assert f"{kind}_{value}" in t.texts, (kind, value)
            word = t.name(kind, value)
            assert "_" not in word or "(" in word, (kind, value)  # no raw identifier shown


def test_an_identifier_without_a_word_is_shown_as_it_is():
    assert Words("ru").name("status", "from_a_newer_version") == "from_a_newer_version"


@pytest.mark.parametrize(
    ("lang", "amount", "currency", "said"),
    [
        ("ru", "16500", "RUB", f"16{NBSP}500{NBSP}₽"),
        ("ru", "16500.00", "RUB", f"16{NBSP}500{NBSP}₽"),
        ("ru", "16500.5", "RUB", f"16{NBSP}500,50{NBSP}₽"),
        ("ru", "873500", None, f"873{NBSP}500{NBSP}₽"),  # payments default to roubles
        ("ru", "-99.99", "RUB", f"-99,99{NBSP}₽"),
        ("ru", "45000", "USD", f"45{NBSP}000{NBSP}$"),
        ("en", "16500", "RUB", f"RUB{NBSP}16,500"),
        ("en", "16500.5", "RUB", f"RUB{NBSP}16,500.50"),
        ("en", "45000", "USD", "$45,000"),
    ],
)
def test_money_in_the_languages_format_with_its_sign(lang, amount, currency, said):
    assert Words(lang).money(amount, currency) == said


def test_money_kept_in_kopecks_and_money_we_cannot_read():
    assert Words("ru").minor(87350050, "RUB") == f"873{NBSP}500,50{NBSP}₽"
    assert Words("ru").money("n/a", "RUB") == "n/a"
    assert Words("en").money(None, "RUB") == "—"


def test_numbers_and_percentages_as_each_language_writes_them():
    assert Words("ru").number(1234567) == f"1{NBSP}234{NBSP}567"
    assert Words("en").number(1234567) == "1,234,567"
    assert Words("ru").percent(33.3) == f"33,3{NBSP}%"
    assert Words("en").percent(33.3) == f"33.3{NBSP}%"


def test_a_stored_utc_time_is_shown_in_the_dashboards_zone_with_its_name():
    """04:33 UTC is 07:33 in Moscow, and says so; 21:30 UTC is 00:30 on the next Moscow day."""
    moment = clock.now().replace(hour=4, minute=33, second=0, microsecond=0)
    local = moment.astimezone(MOSCOW)
    assert Words("ru", MOSCOW).when(stored(moment)) == f"{local:%d.%m.%Y}, 07:33 MSK"
    en = Words("en", MOSCOW).when(stored(moment))
    assert en == f"{local.month}/{local.day}/{local:%y}, 7:33\u202fAM MSK"  # CLDR's narrow space
    late = clock.now().replace(hour=21, minute=30, second=0, microsecond=0)
    next_day = (late + timedelta(days=1)).date()
    assert Words("ru", MOSCOW).when(stored(late)) == f"{next_day:%d.%m.%Y}, 00:30 MSK"


def test_a_zone_with_summer_time_names_the_right_half_of_the_year():
    berlin = ZoneInfo("Europe/Berlin")
    year = clock.now().year
    winter = datetime(year, 1, 15, 12, tzinfo=UTC)
    summer = datetime(year, 7, 15, 12, tzinfo=UTC)
    assert formats.zone_label(berlin, winter) == "CET"
    assert formats.zone_label(berlin, summer) == "CEST"
    assert Words("ru", berlin).when(stored(summer)).endswith("14:00 CEST")


def test_times_that_are_missing_or_unreadable():
    assert Words("ru", MOSCOW).when(None) == "—"
    assert Words("ru", MOSCOW).when("yesterday") == "yesterday"


def test_spans_of_time_in_words():
    assert Words("ru").seconds(175) == "3 минуты"
    assert Words("en").seconds(7200) == "2 hours"
