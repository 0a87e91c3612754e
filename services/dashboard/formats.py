"""How the dashboard writes numbers, money and times for a person: CLDR's rules per language
(Babel), and every stored UTC time in the dashboard's zone, with the zone named."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import (
    NumberPattern,
    format_currency,
    format_decimal,
    get_currency_symbol,
    parse_pattern,
)

from common import clock

NO_BREAK = "\xa0"


@lru_cache(maxsize=8)
def locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural_category(lang: str, count: int | float | Decimal) -> str:
    """CLDR's plural category of a count in a language: one, few, many or other (ru has all
    four: 1 задача, 2 задачи, 5 задач, 1,5 задачи; en has one and other)."""
    return str(locale(lang).plural_form(count))


def number(value: int | float | Decimal, lang: str) -> str:
    """A count or a measure with the language's digit grouping (1 234 567 / 1,234,567)."""
    return format_decimal(value, locale=locale(lang))


@lru_cache(maxsize=8)
def _whole(lang: str) -> NumberPattern:
    """The language's currency pattern without the fraction: 16 500 ₽ rather than
    16 500,00 ₽, for amounts that have no kopecks."""
    pattern = copy.copy(parse_pattern(locale(lang).currency_formats["standard"].pattern))
    pattern.frac_prec = (0, 0)
    return pattern


def money(amount: Decimal | int | str | None, currency: str | None, lang: str) -> str:
    """An amount in the language's currency format with its sign: «16 500 ₽», «16 500,50 ₽»;
    in English «RUB 16,500». Kopecks are shown only when there are some."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return str(amount)  # not a number we could read: shown as it was kept
    code, place = (currency or "RUB").upper(), locale(lang)  # parsed once: a chart has hundreds
    if value == value.to_integral_value():
        text = format_currency(
            value, code, format=_whole(lang), locale=place, currency_digits=False
        )
    else:
        text = format_currency(value, code, locale=place)
    return _spaced(text, get_currency_symbol(code, locale=place))


def _spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol that ends (or starts) with a
    letter is kept apart from the digits by a no-break space (RUB 16,500, not RUB16,500)."""
    if not symbol[-1:].isalpha():
        return text
    escaped = re.escape(symbol)
    text = re.sub(rf"{escaped}(?=\d)", symbol + NO_BREAK, text)
    return re.sub(rf"(?<=\d){escaped}", NO_BREAK + symbol, text)


def minor(amount_minor: int, currency: str | None, lang: str) -> str:
    """An amount kept in kopecks (1/100 of the unit)."""
    return money(Decimal(amount_minor) / 100, currency, lang)


def percent(value: float, lang: str) -> str:
    return format_decimal(value, format="#,##0.#", locale=locale(lang)) + NO_BREAK + "%"


def local(stored: str, zone: ZoneInfo) -> datetime:
    """A stored UTC time (the store's ISO text) as the wall-clock time in `zone`."""
    return clock.parse(stored).astimezone(zone)


def zone_label(zone: ZoneInfo, moment: datetime | None = None) -> str:
    """The zone's short name at a moment (MSK, CET/CEST), or its offset (+05) where it has
    none; what follows each time shown."""
    at = (moment or clock.now()).astimezone(zone)
    return at.tzname() or zone.key


def when(stored: str | None, lang: str, zone: ZoneInfo) -> str:
    """A stored UTC time for a person: the date and time in the dashboard's zone, in the
    language's short form, followed by the zone («29.11.2026, 07:33 MSK»)."""
    if not stored:
        return "—"
    try:
        moment = local(stored, zone)
    except ValueError:
        return stored  # not a time we could read: shown as it was kept
    return (
        f"{format_datetime(moment, 'short', tzinfo=zone, locale=lang)} {zone_label(zone, moment)}"
    )


def day(stored: str | None, lang: str, zone: ZoneInfo) -> str:
    """The local day of a stored UTC time, or of a date (YYYY-MM-DD) as it is."""
    if not stored:
        return "—"
    try:
        moment = local(stored, zone) if "T" in stored else datetime.fromisoformat(stored)
    except ValueError:
        return stored
    return format_date(moment, "medium", locale=lang)


def span(seconds: float, lang: str) -> str:
    """A length of time, rounded to its largest unit: «3 минуты», «2 hours»."""
    return format_timedelta(timedelta(seconds=seconds), locale=lang)
