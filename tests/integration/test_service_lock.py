"""Every service holds the database's service lock while it runs, so `leadrelay restore`
refuses; the lock goes with the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.store.sqlite.service_lock import DatabaseInUse, held_for_restore
from services.dashboard.app import create_app as dashboard
from services.dispatcher.app import create_app as dispatcher
from services.ingest.app import create_app as ingest
from services.webhooks.app import create_app as webhooks


@pytest.mark.sqlite_only
@pytest.mark.parametrize("create_app", [ingest, webhooks, dispatcher, dashboard])
async def test_a_running_service_holds_the_database_against_restore(
    aiohttp_client, settings, create_app
):
    database = Path(settings.database)
    client = await aiohttp_client(create_app(settings))
    with pytest.raises(DatabaseInUse, match="stop ingest, webhooks, dispatcher and dashboard"):
        with held_for_restore(database):
            pass
    await client.close()  # the service stops: its lock goes with it
    with held_for_restore(database):
        assert database.exists()
