"""An Idempotency-Key's fingerprint stays the digest earlier versions stored."""

import hashlib
import json
from dataclasses import asdict

import pytest

from common.model import NewLead
from services.ingest.parsing import fingerprint


def kept_before(lead: NewLead) -> str:
    """How the fingerprint was made before it was written by orjson (keys stored then)."""
    shown = {name: value for name, value in asdict(lead).items() if value not in (None, {}, [])}
    text = json.dumps(shown, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


LEADS = [
    NewLead(campaign_id="default", phone="+79161234567"),
    NewLead(
        campaign_id="весна",
        name='Иван "Ваня" \\ Петров\n\t\x01\x1f\x7f\u2028😀',
        email="ivan@example.ru",
        comment="",
        utm_source="yandex",
        extra={"Ключ": "значение", "a": "", "Z": "1", 'quote"': "\x00"},
        warnings=[{"field": "yclid", "value": "x y", "reason": "bad"}, {"b": "1", "a": "2"}],
    ),
]


@pytest.mark.parametrize("lead", LEADS)
def test_the_fingerprint_is_the_digest_kept_before(lead):
    assert fingerprint(lead) == kept_before(lead)


def test_the_fingerprint_changes_with_any_field():
    first = LEADS[1]
    assert fingerprint(first) != fingerprint(NewLead(**(asdict(first) | {"comment": " "})))
    assert fingerprint(first) != fingerprint(NewLead(**(asdict(first) | {"extra": {}})))
