"""Outgoing calls at the edges real CRMs and Metrica show: redirects, time limits, tokens.

Each case runs our integration against the emulator on a real socket.
"""

import time
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from common.config import Settings, YandexSettings
from common.integrations.base import PermanentFailure, TemporaryFailure
from common.integrations.registry import build_integrations
from common.integrations.yandex import Conversion, YandexDirectIntegration
from common.model import Lead, LeadStatus
from tests.emulators import bitrix24, generic, metrica
from tests.emulators.faults import Faults, start
from tests.helpers import SECRET, crm_connections

LEAD = Lead(id="0b6f4f9e-1111-2222-3333-444455556666", campaign_id="c", status=LeadStatus.NEW)
LEAD = Lead(**{**LEAD.as_dict(), "phone": "+79991234567"})


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def trap():
    """Where a redirect points: it answers anything, a body-less GET included, with 200."""
    seen = []

    async def anything(request: web.Request) -> web.Response:
        seen.append((request.method, await request.read()))
        return web.json_response({"id": "wrong", "result": 999})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner, url = await start(app)
    yield url, seen
    await runner.cleanup()


async def served(app):
    return await start(app)


async def test_a_generic_crm_that_redirects_gets_no_lead_and_the_failure_names_it(http, trap):
    target, seen = trap
    receiver = generic.Receiver(SECRET)
    receiver.faults = Faults(redirect_to=f"{target}/moved")
    runner, url = await served(generic.create_app(receiver))
    try:
        crm = build_integrations(
            Settings(
                crm=crm_connections()
                | {"shop": {"kind": "generic", "url": f"{url}/leads", "secret": SECRET}}
            )
        )["shop"]
        with pytest.raises(TemporaryFailure, match=f"301 redirecting to {target} \\(another path"):
            await crm.send_lead(http, LEAD)
    finally:
        await runner.cleanup()
    assert seen == []  # the POST was not re-sent as a GET to the new address


async def test_a_renamed_bitrix24_portal_is_a_failure_not_a_lead_id(http, trap):
    target, seen = trap
    b24 = bitrix24.Bitrix24()
    b24.faults = Faults(redirect_to=f"{target}/rest/1/abcdef123/crm.lead.add.json")
    runner, url = await served(bitrix24.create_app(b24))
    try:
        crm = build_integrations(Settings(crm=crm_connections(f"{url}{b24.path}")))["b24"]
        with pytest.raises(TemporaryFailure, match="redirecting to"):
            await crm.send_lead(http, LEAD)
    finally:
        await runner.cleanup()
    assert seen == [] and b24.received == []


async def test_bitrix24_operation_time_limit_waits_until_the_reset(http):
    b24 = bitrix24.Bitrix24()
    b24.blocked["crm.lead.add"] = time.time() + 120
    runner, url = await served(bitrix24.create_app(b24))
    try:
        crm = build_integrations(Settings(crm=crm_connections(f"{url}{b24.path}")))["b24"]
        with pytest.raises(TemporaryFailure, match="OPERATION_TIME_LIMIT") as caught:
            await crm.send_lead(http, LEAD)
        assert 100 < caught.value.retry_after <= 120  # until operating_reset_at
        b24.blocked.clear()
        assert (await crm.send_lead(http, LEAD)).crm_lead_id == "501"
    finally:
        await runner.cleanup()


def conversion() -> Conversion:
    return Conversion("lead-1", "4781", None, int(time.time()) - 60, Decimal("10.00"), "RUB")


@pytest.mark.parametrize(
    ("token", "counter", "expected", "message"),
    [
        ("wrong-token", 42, TemporaryFailure, "Invalid oauth_token"),
        ("oauth-1", 43, TemporaryFailure, "No access to counter"),
    ],
)
async def test_metrica_token_and_access_problems_are_retried(
    http, token, counter, expected, message
):
    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await served(metrica.create_app(emulator))
    try:
        settings = YandexSettings(base_url=url, token=token, counter_id=counter, target="paid")
        with pytest.raises(expected, match=message):
            await YandexDirectIntegration(settings).upload(http, [conversion()], "leadrelaytest")
    finally:
        await runner.cleanup()
    assert emulator.uploads == []


async def test_metrica_that_redirects_is_a_failure(http, trap):
    target, seen = trap
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.faults = Faults(redirect_to=f"{target}/elsewhere")
    runner, url = await served(metrica.create_app(emulator))
    try:
        settings = YandexSettings(base_url=url, token="oauth-1", counter_id=42, target="paid")
        with pytest.raises(TemporaryFailure, match="redirecting to"):
            await YandexDirectIntegration(settings).upload(http, [conversion()], "leadrelaytest")
    finally:
        await runner.cleanup()
    assert seen == []


async def test_a_metrica_validation_error_is_still_final(http):
    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await served(metrica.create_app(emulator))
    future = Conversion("lead-1", "4781", None, int(time.time()) + 3600, Decimal("1"), "RUB")
    try:
        settings = YandexSettings(base_url=url, token="oauth-1", counter_id=42, target="paid")
        with pytest.raises(PermanentFailure, match="DateTime"):
            await YandexDirectIntegration(settings).upload(http, [future], "leadrelaytest")
    finally:
        await runner.cleanup()
