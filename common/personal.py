"""What counts as a person's data on a lead, and the same lead or text without it.

Personal: the name, phone, e-mail, comment, the form's other answers (`extra`, Tilda's
cookie bits among them), the client ids that follow a browser (`yclid`, `ym_client_id`),
the values a warning quoted, and the query and fragment of `page_url` / `referrer` (a form
may put anything there, `?phone=…` included). Not personal, kept: the campaign, the UTM
fields (they name an ad, and `utm_stats` is counted by them), the status, money and times,
and each event's metadata (request id, content type, User-Agent: no contact).

Everything here is pure and idempotent (`f(f(x)) == f(x)`), so the projection of
`LEAD_ERASED` gives the same row on a live lead as on a replay of its rewritten events.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from urllib.parse import quote, urlsplit, urlunsplit

import phonenumbers

from common.events import LeadCreated, LeadRepeated, StoredEvent
from common.model import NewLead

ERASED = "[erased]"
MIN_DIGITS = 7  # a phone's national number shorter than this is too common a run of digits


def page_without_query(url: str | None) -> str | None:
    """The address without its query and fragment: where the form was, not what it carried."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def warnings_without_values(warnings: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each warning's field and reason; the value it quoted (a phone it could not read) goes."""
    return [{k: v for k, v in warning.items() if k != "value"} for warning in warnings]


def without_person(lead: NewLead) -> NewLead:
    """The submission with the person taken out: what an erased LEAD_CREATED records."""
    return replace(
        lead,
        name=None,
        phone=None,
        email=None,
        comment=None,
        yclid=None,
        ym_client_id=None,
        page_url=page_without_query(lead.page_url),
        referrer=page_without_query(lead.referrer),
        extra={},
        warnings=warnings_without_values(lead.warnings),
    )


def contact_strings(lead: NewLead) -> set[str]:
    """How the lead's phone and e-mail may be written in texts others stored (a CRM's answer,
    a webhook's body): E.164, the national number's digits, the e-mail as is and URL-encoded."""
    found: set[str] = set()
    if lead.phone:
        found.add(lead.phone)
        try:
            national = str(phonenumbers.parse(lead.phone).national_number)
        except phonenumbers.NumberParseException:
            national = ""
        if len(national) >= MIN_DIGITS:
            found.add(national)
        found.add(lead.phone.lstrip("+"))
    if lead.email:
        found |= {lead.email, quote(lead.email, safe="")}
    return found


def without_strings(text: str, needles: set[str]) -> str:
    """`text` with each of `needles` (without case, the longest first) put as `[erased]`."""
    if not needles or not text:
        return text
    pattern = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True) if n)
    return re.sub(pattern, ERASED, text, flags=re.IGNORECASE) if pattern else text


def erased_event(payload: StoredEvent, needles: set[str]) -> StoredEvent:
    """The event as it is kept after erasure: a submission without the person, any other
    event's texts (a CRM's error, a reason) without the contact strings."""
    if isinstance(payload, LeadCreated | LeadRepeated):
        return replace(payload, lead=without_person(payload.lead))
    changes: dict[str, object] = {}
    for f in fields(payload):
        value = getattr(payload, f.name)
        if isinstance(value, str):
            changes[f.name] = without_strings(value, needles)
        elif isinstance(value, tuple) and all(isinstance(item, str) for item in value):
            changes[f.name] = tuple(without_strings(item, needles) for item in value)
    return replace(payload, **changes)  # type: ignore[arg-type]
