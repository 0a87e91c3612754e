import pytest

from services.ingest.app import create_app


@pytest.fixture
async def ingest(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))
