"""Each CRM's webhook as it really arrives, parsed into notices."""

import json
import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from common.config import Settings
from common.errors import BadRequest, InvalidField, InvalidSignature, Unauthorized
from common.integrations.base import WebhookRequest
from common.integrations.registry import build_integrations
from common.signing import signed_headers
from tests.helpers import SECRET, crm_connections


@pytest.fixture
def crms():
    return build_integrations(Settings(crm=crm_connections()))


def amo_hook(*leads, token="hook-secret") -> WebhookRequest:
    fields = {"account[subdomain]": "shop", "account[id]": "29000000"}
    for n, (lead_id, status, price) in enumerate(leads):
        fields |= {
            f"leads[status][{n}][id]": lead_id,
            f"leads[status][{n}][status_id]": status,
            f"leads[status][{n}][pipeline_id]": "5000000",
            f"leads[status][{n}][old_status_id]": "142000",
            f"leads[status][{n}][price]": price,
            f"leads[status][{n}][updated_at]": "1764150000",
        }
    return WebhookRequest({"token": token} if token else {}, {}, urlencode(fields).encode())


def test_amocrm_two_leads_won_and_lost(crms):
    hook = amo_hook(("30000001", "142", "15000"), ("30000002", "143", ""))
    crms["amo"].authenticate(hook)
    won, lost = crms["amo"].parse_webhook(hook)
    assert (won.outcome, won.crm_lead_id, won.amount, won.currency) == (
        "paid",
        "30000001",
        Decimal("15000.00"),
        "RUB",
    )
    assert won.paid_at == "2025-11-26T09:40:00.000000Z"
    assert (lost.outcome, lost.crm_lead_id) == ("lost", "30000002")


def test_amocrm_other_status_is_news_only(crms):
    [notice] = crms["amo"].parse_webhook(amo_hook(("30000003", "21505", "100")))
    assert notice.outcome == "other" and "21505" in notice.note


@pytest.mark.parametrize("token", [None, "wrong", "hook-secreT"])
def test_amocrm_token_is_required(crms, token):
    with pytest.raises(Unauthorized):
        crms["amo"].authenticate(amo_hook(("1", "142", "1"), token=token))


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ("-5", "negative"),
        ("NaN", "finite"),
        ("1e30", "exceed"),
        ("12.345", "decimals"),
        ("abc", "not a number"),
    ],
)
def test_amocrm_bad_prices_are_refused(crms, price, problem):
    with pytest.raises(InvalidField, match=problem) as caught:
        crms["amo"].parse_webhook(amo_hook(("30000001", "142", price)))
    assert caught.value.detail[0]["field"] == "leads[status][0][price]"


def test_amocrm_body_without_leads_or_account_is_malformed(crms):
    with pytest.raises(BadRequest):
        crms["amo"].parse_webhook(WebhookRequest({}, {}, b"contacts%5Badd%5D%5B0%5D%5Bid%5D=1"))


def test_amocrm_event_of_another_entity_is_news_only(crms):
    body = urlencode({"contacts[update][0][id]": "501", "account[id]": "29000000"}).encode()
    [notice] = crms["amo"].parse_webhook(WebhookRequest({}, {}, body))
    assert (notice.outcome, notice.note) == (
        "other",
        "an amoCRM event we do not use (contacts[update])",
    )


def b24_hook(event="ONCRMDEALUPDATE", deal="42", token="app-token") -> WebhookRequest:
    body = urlencode(
        {
            "event": event,
            "data[FIELDS][ID]": deal,
            "ts": "1764150000",
            "auth[domain]": "shop.bitrix24.ru",
            "auth[client_endpoint]": "https://shop.bitrix24.ru/rest/",
            "auth[member_id]": "abc",
            "auth[application_token]": token,
        }
    )
    return WebhookRequest({}, {}, body.encode())


def test_bitrix24_deal_update_names_the_deal(crms):
    hook = b24_hook()
    crms["b24"].authenticate(hook)
    [notice] = crms["b24"].parse_webhook(hook)
    assert (notice.outcome, notice.deal_id) == ("deal", "42")


def test_bitrix24_checks_the_application_token(crms):
    with pytest.raises(Unauthorized):
        crms["b24"].authenticate(b24_hook(token="other"))


def test_bitrix24_other_events_and_bad_ids(crms):
    [notice] = crms["b24"].parse_webhook(b24_hook(event="ONCRMLEADADD"))
    assert notice.outcome == "other"
    with pytest.raises(InvalidField):
        crms["b24"].parse_webhook(b24_hook(deal="42; DROP"))


def generic_hook(payload, now=None, secret=SECRET, message_id="msg_1") -> WebhookRequest:
    body = json.dumps(payload).encode()
    return WebhookRequest({}, signed_headers(secret, message_id, body, now=now), body)


PAYMENT = {"type": "payment", "lead_id": "L1", "amount": "990.50", "currency": "rub"}


def test_generic_valid_signature_and_payment(crms):
    hook = generic_hook(PAYMENT | {"paid_at": "2026-11-20T10:00:00Z"})
    assert crms["shop"].authenticate(hook) == "msg_1"
    [notice] = crms["shop"].parse_webhook(hook)
    assert (notice.outcome, notice.lead_id, notice.amount, notice.currency) == (
        "paid",
        "L1",
        Decimal("990.50"),
        "RUB",
    )
    assert notice.paid_at == "2026-11-20T10:00:00.000000Z"


def test_generic_invalid_and_expired_signatures(crms):
    with pytest.raises(InvalidSignature):
        crms["shop"].authenticate(
            generic_hook(PAYMENT, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
        )
    with pytest.raises(InvalidSignature, match="5 minutes"):
        crms["shop"].authenticate(generic_hook(PAYMENT, now=time.time() - 600))
    tampered = generic_hook(PAYMENT)
    tampered = WebhookRequest({}, tampered.headers, tampered.body.replace(b"990", b"1"))
    with pytest.raises(InvalidSignature):
        crms["shop"].authenticate(tampered)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "payment", "amount": "1", "currency": "RUB"}, "lead_id"),
        (PAYMENT | {"amount": -1}, "amount"),
        (PAYMENT | {"amount": "Infinity"}, "amount"),
        (PAYMENT | {"currency": "XYZ"}, "currency"),
        (PAYMENT | {"paid_at": "yesterday"}, "paid_at"),
        (PAYMENT | {"paid_at": "2099-01-01T00:00:00Z"}, "paid_at"),
        (PAYMENT | {"lead_id": {"x": 1}}, "lead_id"),
    ],
)
def test_generic_bad_payments(crms, payload, field):
    with pytest.raises(InvalidField) as caught:
        crms["shop"].parse_webhook(generic_hook(payload))
    assert caught.value.detail[0]["field"] == field


def test_amocrm_deleted_leads_are_deletion_notices(crms):
    """Kommo's "Lead deleted" webhook: leads[delete][N][id], status_id and pipeline_id."""
    form = {
        "leads[delete][0][id]": "30000007",
        "leads[delete][0][status_id]": "142",
        "leads[delete][0][pipeline_id]": "5000000",
    }
    hook = WebhookRequest({"token": "hook-secret"}, {}, urlencode(form).encode())
    [notice] = crms["amo"].parse_webhook(hook)
    assert (notice.outcome, notice.crm_lead_id) == ("deleted", "30000007")
    bad = WebhookRequest({}, {}, urlencode({"leads[delete][0][id]": "x"}).encode())
    with pytest.raises(InvalidField, match=r"leads\[delete\]\[0\]: id must be a number"):
        crms["amo"].parse_webhook(bad)


def test_bitrix24_deal_deletion_names_the_deal(crms):
    """ONCRMDEALDELETE carries data[FIELDS][ID] only: nothing to read, the deal is gone."""
    form = {"event": "ONCRMDEALDELETE", "data[FIELDS][ID]": "1765"}
    [notice] = crms["b24"].parse_webhook(WebhookRequest({}, {}, urlencode(form).encode()))
    assert (notice.outcome, notice.deal_id, notice.crm_lead_id) == ("deleted", "1765", None)
    form["data[FIELDS][ID]"] = "1765; DROP"
    with pytest.raises(InvalidField):
        crms["b24"].parse_webhook(WebhookRequest({}, {}, urlencode(form).encode()))
