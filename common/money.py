"""Amounts and currencies as payments carry them: Decimal, never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from common.errors import InvalidField

MAX_AMOUNT = Decimal("10000000000")  # ten billion: anything larger is a typo or an attack
# ISO 4217 codes of the currencies leadrelay's users are paid in; Metrica accepts these.
CURRENCIES = frozenset(
    {
        "RUB",
        "USD",
        "EUR",
        "KZT",
        "BYN",
        "UAH",
        "UZS",
        "KGS",
        "AMD",
        "AZN",
        "GEL",
        "TJS",
        "TMT",
        "MDL",
        "TRY",
        "CNY",
        "GBP",
        "CHF",
        "PLN",
        "CZK",
        "SEK",
        "NOK",
        "DKK",
        "ILS",
        "AED",
        "INR",
        "JPY",
        "KRW",
        "CAD",
        "AUD",
    }
)


def parse_amount(value: object) -> Decimal:
    """A non-negative amount with at most two decimals; ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a number")
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as error:
        raise ValueError("is not a number") from error
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must not exceed {MAX_AMOUNT}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimals")
    return amount.copy_abs().quantize(Decimal("0.01"))  # "-0" is 0.00, not -0.00


def parse_currency(value: object) -> str:
    code = str(value or "").strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not a supported ISO 4217 currency")
    return code


def money(field: str, amount: object, currency: object) -> tuple[Decimal, str]:
    """Validated amount and currency, or InvalidField naming the field."""
    try:
        value = parse_amount(amount)
    except ValueError as error:
        raise InvalidField(f"{field}: {error}", [{"field": field, "message": str(error)}]) from None
    try:
        code = parse_currency(currency)
    except ValueError as error:
        message = str(error)
        problem = [{"field": "currency", "message": message}]
        raise InvalidField(f"currency: {message}", problem) from None
    return value, code
