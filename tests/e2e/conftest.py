import pytest

from tests.e2e.system import System


@pytest.fixture
async def system(tmp_path):
    running = System(tmp_path)
    await running.start_emulators()
    yield running
    await running.close()
