"""What a person typed into the one search box to find a lead: its id, a phone, an e-mail,
or a part of a name, e-mail or phone, read the way ingest reads contacts (common.contacts)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from common.contacts import fold, normalise_email, normalise_phone

MOST = 100  # characters of a search; more is no name, phone or e-mail anyone types
NOT_DIGITS = re.compile(r"\D")
PHONE_SIGNS = re.compile(r"[\d\s()+\-.]+")


class SearchKind(StrEnum):
    LEAD_ID = "lead_id"  # a lead's id: that lead
    PHONE = "phone"  # a whole phone number in any notation, as E.164: leads with that phone
    EMAIL = "email"  # a whole e-mail address, folded: leads with that address, in any case
    DIGITS = "digits"  # a part of a phone number: leads whose phone has these digits
    TEXT = "text"  # anything else, folded: a part of a lead's name or e-mail, in any case


@dataclass(frozen=True)
class LeadSearch:
    typed: str  # as the person typed it, to show it back
    kind: SearchKind
    value: str  # what the store compares, in the form it keeps (E.164, folded …)


def read_search(typed: str | None, region: str) -> LeadSearch | None:
    """The search a text asks for (None for an empty one). A phone is normalised as ingest
    normalises it (`region` for numbers without +), so «8 (916) 123-45-67» finds the lead
    stored as +79161234567; ValueError for a text too long to be a search."""
    text = (typed or "").strip()
    if not text:
        return None
    if len(text) > MOST:
        raise ValueError(f"must be at most {MOST} characters")
    try:
        return LeadSearch(text, SearchKind.LEAD_ID, str(uuid.UUID(text)))
    except ValueError:
        pass
    if PHONE_SIGNS.fullmatch(text) and (digits := NOT_DIGITS.sub("", text)):
        try:
            return LeadSearch(text, SearchKind.PHONE, normalise_phone(text, region))
        except ValueError:
            return LeadSearch(text, SearchKind.DIGITS, digits)
    if "@" in text:
        try:
            return LeadSearch(text, SearchKind.EMAIL, str(fold(normalise_email(text))))
        except ValueError:
            pass
    return LeadSearch(text, SearchKind.TEXT, str(fold(text)))
