import pytest

from services.ingest.app import create_app
from tests.emulators import amocrm, bitrix24, direct
from tests.emulators.faults import start


@pytest.fixture
async def ingest(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))


async def _served(emulator, app):
    """An emulator on a real socket; `url` is where it listens."""
    runner, url = await start(app)
    emulator.url = url
    return runner


@pytest.fixture
async def b24():
    """The Bitrix24 emulator on a real socket; `url` is where it listens."""
    emulator = bitrix24.Bitrix24()
    runner = await _served(emulator, bitrix24.create_app(emulator))
    yield emulator
    await runner.cleanup()


@pytest.fixture
async def amo():
    """The amoCRM emulator (token `amo-secret`, as crm_connections configures it)."""
    emulator = amocrm.AmoCrm("amo-secret")
    runner = await _served(emulator, amocrm.create_app(emulator))
    yield emulator
    await runner.cleanup()


@pytest.fixture
async def account():
    """Yandex Direct's Reports service, emulated for one advertiser whose token is
    `direct-token`; `url` is where it listens."""
    emulator = direct.Direct("direct-token")
    runner = await _served(emulator, direct.create_app(emulator))
    yield emulator
    await runner.cleanup()
