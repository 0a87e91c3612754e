"""Each CRM integration's outgoing request, to the byte, and how it reads every answer."""

import json

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from common.config import Settings
from common.integrations.base import PermanentFailure, TemporaryFailure
from common.integrations.registry import build_integrations
from common.model import Delivered, Lead, LeadStatus
from common.signing import verify
from tests.helpers import SECRET, crm_connections

AMO_URL = "https://shop.amocrm.ru/api/v4/leads/complex"
NOTES_URL = "https://shop.amocrm.ru/api/v4/leads/notes"
B24_URL = "https://shop.bitrix24.ru/rest/1/abc/crm.lead.add.json"
GENERIC_URL = "https://crm.example.com/leads"
LEAD = Lead(
    id="0b6f4f9e-1111-2222-3333-444455556666",
    campaign_id="spring-sale",
    status=LeadStatus.NEW,
    name="Иван",
    phone="+79991234567",
    email="ivan@example.ru",
    comment="перезвоните",
    utm_source="yandex",
    utm_campaign="spring",
    yclid="4781234567",
    ym_client_id=None,
    page_url="https://landing.example.ru/",
    extra={"formid": "f1"},
    created_at="2026-11-26T10:00:00.000000Z",
)


@pytest.fixture
def crms():
    return build_integrations(Settings(crm=crm_connections(pipeline_id=77)))


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def sent(mocked, method, url):
    [call] = mocked.requests[(method, URL(url))]
    return call.kwargs


async def test_amocrm_request(crms, http):
    with aioresponses() as mocked:
        mocked.post(AMO_URL, payload=[{"id": 123, "contact_id": 456, "request_id": ["x"]}])
        mocked.post(NOTES_URL, payload={"_embedded": {"notes": [{"id": 1, "entity_id": 123}]}})
        assert await crms["amo"].send_lead(http, LEAD) == Delivered("123")
        call = sent(mocked, "POST", AMO_URL)
        note = sent(mocked, "POST", NOTES_URL)
    assert note["headers"]["Authorization"] == "Bearer amo-secret"
    assert note["json"] == [
        {
            "entity_id": 123,
            "note_type": "common",
            "params": {
                "text": "Комментарий: перезвоните\nСтраница: https://landing.example.ru/\n"
                f"formid: f1\nleadrelay: {LEAD.id}"
            },
        }
    ]
    assert call["headers"]["Authorization"] == "Bearer amo-secret"
    assert call["json"] == [
        {
            "name": "Заявка: spring-sale",
            "request_id": LEAD.id,
            "pipeline_id": 77,
            "_embedded": {
                "contacts": [
                    {
                        "name": "Иван",
                        "custom_fields_values": [
                            {
                                "field_code": "PHONE",
                                "values": [{"value": "+79991234567", "enum_code": "WORK"}],
                            },
                            {
                                "field_code": "EMAIL",
                                "values": [{"value": "ivan@example.ru", "enum_code": "WORK"}],
                            },
                        ],
                    }
                ],
                "tags": [{"name": "spring-sale"}],
            },
            "custom_fields_values": [
                {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]},
                {"field_code": "UTM_CAMPAIGN", "values": [{"value": "spring"}]},
                {"field_code": "YCLID", "values": [{"value": "4781234567"}]},
            ],
        }
    ]


async def test_bitrix24_request(crms, http):
    with aioresponses() as mocked:
        mocked.post(B24_URL, payload={"result": 901, "time": {}})
        assert await crms["b24"].send_lead(http, LEAD) == Delivered("901")
        call = sent(mocked, "POST", B24_URL)
    assert call["json"] == {
        "fields": {
            "TITLE": "Заявка: spring-sale",
            "SOURCE_ID": "WEB",
            "ORIGINATOR_ID": "leadrelay",
            "ORIGIN_ID": LEAD.id,
            "COMMENTS": "Комментарий: перезвоните\nСтраница: https://landing.example.ru/\n"
            f"formid: f1\nleadrelay: {LEAD.id}",
            "NAME": "Иван",
            "PHONE": [{"VALUE": "+79991234567", "VALUE_TYPE": "WORK"}],
            "EMAIL": [{"VALUE": "ivan@example.ru", "VALUE_TYPE": "WORK"}],
            "UTM_SOURCE": "yandex",
            "UTM_CAMPAIGN": "spring",
            "SOURCE_DESCRIPTION": "https://landing.example.ru/",
        },
        "params": {"REGISTER_SONET_EVENT": "Y"},
    }


async def test_generic_request_is_signed_and_stable(crms, http):
    with aioresponses() as mocked:
        mocked.post(GENERIC_URL, payload={"id": "ext-9"})
        mocked.post(GENERIC_URL, body="accepted")
        assert await crms["shop"].send_lead(http, LEAD) == Delivered("ext-9")
        assert await crms["shop"].send_lead(http, LEAD) == Delivered(None)  # no JSON id: fine
        first, second = mocked.requests[("POST", URL(GENERIC_URL))]
    headers = first.kwargs["headers"]
    body = first.kwargs["data"]
    assert headers["Content-Type"] == "application/json"
    assert verify(SECRET, headers, body) == f"lead.created.{LEAD.id}"
    assert second.kwargs["headers"]["webhook-id"] == headers["webhook-id"]
    event = json.loads(body)
    assert event["type"] == "lead.created"
    assert event["lead"]["phone"] == "+79991234567" and event["lead"]["extra"] == {"formid": "f1"}


HTML_429 = "<html><body>429 Too Many Requests</body></html>"

CLASSIFICATION = [
    ("amo", AMO_URL, {"status": 400, "payload": {"validation-errors": []}}, PermanentFailure, None),
    ("amo", AMO_URL, {"status": 401, "payload": {"title": "Unauthorized"}}, TemporaryFailure, None),
    ("amo", AMO_URL, {"status": 403, "payload": {"title": "Forbidden"}}, TemporaryFailure, None),
    ("amo", AMO_URL, {"status": 429, "body": HTML_429}, TemporaryFailure, None),
    ("amo", AMO_URL, {"status": 429, "headers": {"Retry-After": "7"}}, TemporaryFailure, 7.0),
    ("amo", AMO_URL, {"status": 502, "body": "bad gateway"}, TemporaryFailure, None),
    ("amo", AMO_URL, {"status": 200, "payload": {"unexpected": 1}}, PermanentFailure, None),
    (
        "b24",
        B24_URL,
        {"status": 503, "payload": {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "x"}},
        TemporaryFailure,
        None,
    ),
    (
        "b24",
        B24_URL,
        {"status": 503, "payload": {"error": "OVERLOAD_LIMIT", "error_description": "x"}},
        TemporaryFailure,
        None,
    ),
    (
        "b24",
        B24_URL,
        {"status": 400, "payload": {"error": "ERROR_CORE", "error_description": "bad"}},
        PermanentFailure,
        None,
    ),
    (
        "b24",
        B24_URL,
        {"status": 401, "payload": {"error": "expired_token", "error_description": "x"}},
        TemporaryFailure,
        None,
    ),
    # A 200 without a result may follow an add the portal made: asked again (the retry
    # looks for the lead by ORIGIN_ID first), not given up.
    ("b24", B24_URL, {"status": 200, "payload": {"time": {}}}, TemporaryFailure, None),
    ("shop", GENERIC_URL, {"status": 422, "payload": {"error": "bad"}}, PermanentFailure, None),
    ("shop", GENERIC_URL, {"status": 500, "body": "oops"}, TemporaryFailure, None),
]


@pytest.mark.parametrize(("name", "url", "reply", "expected", "retry_after"), CLASSIFICATION)
async def test_answers_are_classified(crms, http, name, url, reply, expected, retry_after):
    with aioresponses() as mocked:
        mocked.post(url, **reply)
        with pytest.raises(expected) as caught:
            await crms[name].send_lead(http, LEAD)
    assert str(reply["status"]) in caught.value.message or "without" in caught.value.message
    assert caught.value.retry_after == retry_after


@pytest.mark.parametrize("name,url", [("amo", AMO_URL), ("b24", B24_URL), ("shop", GENERIC_URL)])
async def test_timeouts_and_network_errors_are_temporary(crms, http, name, url):
    with aioresponses() as mocked:
        mocked.post(url, exception=TimeoutError())
        mocked.post(url, exception=aiohttp.ClientConnectionError("refused"))
        with pytest.raises(TemporaryFailure, match="did not answer in time"):
            await crms[name].send_lead(http, LEAD)
        with pytest.raises(TemporaryFailure, match="unreachable"):
            await crms[name].send_lead(http, LEAD)
