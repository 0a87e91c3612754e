"""Phone and email normalisation, and masks that keep them out of logs."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form of a phone number written any usual way; ValueError if it is not one."""
    text = raw.strip()
    # Russians often write 8 900 … for +7 900 …; phonenumbers knows this for RU.
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError("not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error


def fold(text: str | None) -> str | None:
    """How an e-mail or a name compares: without case, so `Ivan@x.ru` is `ivan@x.ru` and
    «ИВАН» is «Иван». Python's lower(), kept beside the value (`leads.email_key`,
    `leads.name_key`): SQLite's own lower() folds ASCII letters alone."""
    return None if text is None else text.lower()


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return phone[:2] + "*" * max(len(phone) - 4, 0) + phone[-2:]


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[:1] + "***"
