"""Fixtures: every test gets its own real SQLite file and explicit settings."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from common import clock
from common.config import Settings
from common.store import open_store
from tests import pg
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


# LEADRELAY_TEST_BACKENDS=sqlite narrows a run to the embedded backend: the moved-clock pass
# (a PostgreSQL server started outside faketime would keep the real time) and `make check`.
BACKENDS = tuple(os.environ.get("LEADRELAY_TEST_BACKENDS", "sqlite,postgresql").split(","))


# The slow tiers, marked by the folder they live in: `pytest -m "not e2e and not browser"`.
TIERS = {
    "e2e": "real leadrelay processes started by the test (seconds each)",
    "browser": "headless Chromium driving the dashboard",
    "postgres": "PostgreSQL-only tests (a server is needed)",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of the SQLite backend's own files")
    for tier, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {meaning}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier; a test marked sqlite_only exists for SQLite alone (it
    is not collected, not skipped, for PostgreSQL)."""
    kept, dropped = [], []
    for item in items:
        tier = Path(str(item.path)).parent.name
        if tier in TIERS:
            item.add_marker(tier)
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("database") == "postgresql"
        (dropped if on_pg and item.get_closest_marker("sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def move_clock(monkeypatch: pytest.MonkeyPatch):
    """Move this process's clock (common.clock) ahead, for code that waits on time passing;
    the one way a test changes the clock. The database server's clock does not move."""

    def move(**delta: float) -> None:
        monkeypatch.setattr(clock, "_ahead", clock._ahead + timedelta(**delta))

    return move


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (tests/pg.py says where it comes from)."""
    with pg.server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    """The session's migrated PostgreSQL database; `database` wipes it for each test."""
    with pg.migrated_database(postgres_server) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """This test's database, on each backend: a new SQLite file, or the session's migrated
    PostgreSQL database, emptied."""
    if request.param == "sqlite":
        return str(tmp_path / "leadrelay.db")
    url: str = request.getfixturevalue("postgres_database")
    pg.wipe(url)
    return url


@pytest.fixture
def db_path(database: str) -> str:
    """The test's database as `rows` and `snapshot` take it: a file path or a URL."""
    return database


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings(
        database=database,
        busy_timeout=0.2 if not database.startswith("postgresql") else 0.5,
        ingest={"cors_origins": ["https://landing.example.ru"], "rate_limit_per_minute": 1000},
    )


@pytest.fixture
async def store(settings: Settings):
    """The real store of this test's backend: the same verbs behave the same on both."""
    opened = await open_store(
        settings.database, settings.busy_timeout, zone=settings.dashboard.zone
    )
    yield opened
    await opened.close()


@pytest.fixture
async def system(tmp_path: Path):
    """Real leadrelay processes (started by the test) beside in-process emulators."""
    running = System(tmp_path)
    await running.start_emulators()
    yield running
    await running.close()
