import pytest

from services.ingest.app import create_app
from tests.emulators import bitrix24
from tests.emulators.faults import start


@pytest.fixture
async def ingest(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def b24():
    """The Bitrix24 emulator on a real socket; `url` is where it listens."""
    emulator = bitrix24.Bitrix24()
    runner, url = await start(bitrix24.create_app(emulator))
    emulator.url = url
    yield emulator
    await runner.cleanup()
