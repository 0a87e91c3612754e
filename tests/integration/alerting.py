"""Fixtures the alert tests share: a Telegram Bot API emulator served for the test."""

from __future__ import annotations

import pytest

from tests.emulators.faults import start
from tests.emulators.telegram import TelegramState, create_app

TOKEN = "123456:bot-token-secret"


@pytest.fixture(name="telegram")
async def telegram_emulator():
    state = TelegramState(TOKEN)
    runner, url = await start(create_app(state))
    yield state, url
    await runner.cleanup()
