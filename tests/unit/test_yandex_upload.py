"""The Metrica CSV and the upload request."""

from decimal import Decimal

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from common.config import YandexSettings
from common.integrations.base import PermanentFailure, TemporaryFailure
from common.integrations.yandex import Conversion, YandexDirectIntegration, build_csv

URL_ = "https://api-metrika.yandex.net/management/v1/counter/123/offline_conversions/upload?comment=leadrelaytest"


def conv(n, yclid=None, client_id=None, price="1500") -> Conversion:
    return Conversion(f"L{n}", yclid, client_id, 1764150000 + n, Decimal(price), "RUB")


def test_csv_with_yclids():
    text = build_csv(
        [conv(1, yclid="4781", price="1500"), conv(2, yclid="99", price="0.5")], "paid"
    )
    assert text == (
        "Yclid,Target,DateTime,Price,Currency\n"
        "4781,paid,1764150001,1500.00,RUB\n"
        "99,paid,1764150002,0.50,RUB\n"
    )


def test_csv_with_client_ids_only():
    text = build_csv([conv(1, client_id="1700000000123")], "paid")
    assert text.splitlines() == [
        "ClientId,Target,DateTime,Price,Currency",
        "1700000000123,paid,1764150001,1500.00,RUB",
    ]


def test_csv_mixed_batch_fills_one_id_per_row():
    rows = build_csv([conv(1, yclid="7", client_id="5"), conv(2, client_id="8")], "g")
    assert rows.splitlines() == [
        "Yclid,ClientId,Target,DateTime,Price,Currency",
        "7,,g,1764150001,1500.00,RUB",
        ",8,g,1764150002,1500.00,RUB",
    ]


@pytest.fixture
def yandex():
    return YandexDirectIntegration(YandexSettings(token="oauth-1", counter_id=123, target="paid"))


async def test_upload_request_and_answer(yandex):
    with aioresponses() as mocked:
        mocked.post(URL_, payload={"uploading": {"id": 777, "status": "UPLOADED"}})
        async with aiohttp.ClientSession() as http:
            assert await yandex.upload(http, [conv(1, yclid="4781")], "leadrelaytest") == "777"
        [call] = mocked.requests[("POST", URL(URL_))]
    assert call.kwargs["headers"]["Authorization"] == "OAuth oauth-1"
    form = call.kwargs["data"]
    assert isinstance(form, aiohttp.FormData)
    [(options, headers, value)] = form._fields
    assert options["name"] == "file" and options["filename"] == "conversions.csv"
    assert value.decode().startswith("Yclid,Target,DateTime,Price,Currency\n4781,paid,")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, PermanentFailure),
        (403, TemporaryFailure),  # a token or access a person fixes: retried
        (429, TemporaryFailure),
        (503, TemporaryFailure),
    ],
)
async def test_upload_errors(yandex, status, expected):
    body = {"errors": [{"error_type": "x", "message": "Counter not found"}], "code": status}
    with aioresponses() as mocked:
        mocked.post(URL_, status=status, payload=body)
        async with aiohttp.ClientSession() as http:
            with pytest.raises(expected, match="Counter not found"):
                await yandex.upload(http, [conv(1, yclid="1")], "leadrelaytest")
