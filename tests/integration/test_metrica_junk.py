"""A junk answer from Metrica's uploading/{id} is a reason to look again, not a verdict."""

from services.dispatcher.app import create_app
from tests.emulators import metrica
from tests.emulators.faults import start
from tests.integration.test_metrica_processing import pay, settled, with_metrica


async def test_html_a_list_and_null_are_looked_at_again(aiohttp_client, settings, store):
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.visitors = {"known-1"}
    emulator.junk_looks = [
        ("text/html", "<html><body>502 Bad Gateway</body></html>"),
        ("application/json", "[]"),
        ("application/json", "null"),
    ]
    runner, url = await start(metrica.create_app(emulator))
    try:
        await aiohttp_client(create_app(with_metrica(settings, url, max_attempts=6)))
        [lead_id] = await pay(store, "spring", ["known-1"])
        assert await settled(store, [lead_id]) == {lead_id: "linked"}
    finally:
        await runner.cleanup()
    assert emulator.junk_looks == []  # all three were answered, and then the real one
    assert emulator.looks[9001] >= 4
