"""Build one integration per configured CRM connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from common.config import AmoCrmConnection, Bitrix24Connection, Settings
from common.integrations.amocrm import AmoCrmIntegration
from common.integrations.base import Credentials, CrmIntegration
from common.integrations.bitrix24 import Bitrix24Integration
from common.integrations.generic import GenericIntegration
from common.model import OAuthTokens

Exchange = Callable[[aiohttp.ClientSession, str, str], Awaitable[OAuthTokens]]
# Given a connection's name and how to exchange a grant for tokens, where its tokens are kept
# (the store, which integrations may not import: the process that has it passes this in).
CredentialsFor = Callable[[str, Exchange], Credentials]


def build_integrations(
    settings: Settings, credentials: CredentialsFor | None = None
) -> dict[str, CrmIntegration]:
    built: dict[str, CrmIntegration] = {}
    for name, connection in settings.crm.items():
        if isinstance(connection, AmoCrmConnection):
            amo = AmoCrmIntegration(name, connection, settings.yandex.currency)
            if connection.oauth and credentials is not None:
                amo.credentials = credentials(name, amo.exchange)
            built[name] = amo
        elif isinstance(connection, Bitrix24Connection):
            built[name] = Bitrix24Integration(name, connection)
        else:
            built[name] = GenericIntegration(name, connection)
    return built
