"""Fixtures: every test gets its own real SQLite file and explicit settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.config import Settings
from common.store import SqliteStore
from tests.e2e.system import System


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer's leadrelay.toml or LEADRELAY_* variable leaks into a test."""
    for name in list(os.environ):
        if name.startswith("LEADRELAY_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("LEADRELAY_CONFIG", str(empty))
    return empty


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "leadrelay.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(
        database=db_path,
        busy_timeout=0.2,
        ingest={"cors_origins": ["https://landing.example.ru"], "rate_limit_per_minute": 1000},
    )


@pytest.fixture
async def store(settings: Settings):
    """The real SQLite store over this test's database file."""
    opened = await SqliteStore(settings.database, settings.busy_timeout).open()
    yield opened
    await opened.close()


@pytest.fixture
async def system(tmp_path: Path):
    """Real leadrelay processes (started by the test) beside in-process emulators."""
    running = System(tmp_path)
    await running.start_emulators()
    yield running
    await running.close()
