"""Metrica answering an upload as a broken or hostile server would: a 200 list of uploads
that lists nothing readable, an upload shown with an id that is no id, an error body of
another shape. The conversions go once, and each lead learns how they went."""

from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web

from common.config import YandexSettings
from common.integrations.base import TemporaryFailure
from common.integrations.yandex import Conversion, YandexDirectIntegration
from services.dispatcher.app import create_app
from tests.emulators import metrica
from tests.emulators.faults import start
from tests.integration.test_metrica_processing import pay, settled, with_metrica

JUNK_LISTS = [
    ("text/html", "<html><body>502 Bad Gateway</body></html>"),
    ("application/json", "{}"),
    ("application/json", '{"uploadings": null}'),
]


async def test_a_list_of_uploads_without_a_list_does_not_send_the_file_again(
    aiohttp_client, settings, store
):
    """The file's answer was lost, so the retry looks for the upload by its comment. Before:
    a list it could not read counted as "no such upload" and the 5 rows went again, and
    Metrica counted each payment twice."""
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.lose_answers = 1
    emulator.junk_lists = list(JUNK_LISTS)
    runner, url = await start(metrica.create_app(emulator))
    try:
        await aiohttp_client(create_app(with_metrica(settings, url, max_attempts=10)))
        ids = await pay(store, "spring", [f"{n}" for n in range(1, 6)])
        statuses = await settled(store, ids)
    finally:
        await runner.cleanup()
    assert emulator.junk_lists == []  # each was answered, then the real list
    assert len(emulator.uploads) == 1 and len(emulator.received) == 5
    assert set(statuses.values()) == {"linked"}


JUNK_IDS = {"null": None, "an object": {"id": 9001}, "a path": "../../9001"}


@pytest.mark.parametrize("junk", list(JUNK_IDS.values()), ids=list(JUNK_IDS))
async def test_an_upload_shown_with_an_id_that_is_no_id_is_found_by_its_comment(
    aiohttp_client, settings, store, junk
):
    """Before: "None", "{'id': 9001}" or "../../9001" was kept as the upload's id and asked
    about (a path of Metrica's API other than the upload's, with our token), and the leads
    never learnt whether their conversions were linked."""
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.junk_ids = [junk]
    runner, url = await start(metrica.create_app(emulator))
    try:
        await aiohttp_client(create_app(with_metrica(settings, url, max_attempts=10)))
        ids = await pay(store, "spring", ["1", "2"])
        statuses = await settled(store, ids)
    finally:
        await runner.cleanup()
    assert statuses == dict.fromkeys(ids, "linked")
    assert len(emulator.uploads) == 1  # found by its comment, not sent again
    assert list(emulator.looks) == [9001]


ERROR_BODIES = {
    "errors a number": b'{"errors": 5}',
    "a message a number": b'{"errors": [{"message": 5}]}',
    "message an object": b'{"message": {"text": "down"}}',
}


@pytest.mark.parametrize("body", list(ERROR_BODIES.values()), ids=list(ERROR_BODIES))
async def test_a_5xx_with_an_error_body_of_another_shape_is_temporary(body):
    """Before: "; ".join over a number raised TypeError: an internal error, not a 503."""

    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", down)
    runner, url = await start(app)
    yandex = YandexDirectIntegration(
        YandexSettings(base_url=url, token="oauth-1", counter_id=42, target="paid")
    )
    conversion = Conversion("lead", "yclid-1", None, 1_700_000_000, Decimal("10"), "RUB")
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(TemporaryFailure, match="answered HTTP 503: {"):
                await yandex.upload(http, [conversion], "leadrelay-key")
            with pytest.raises(TemporaryFailure, match="answered HTTP 503"):
                await yandex.find(http, "leadrelay-key")
    finally:
        await runner.cleanup()
