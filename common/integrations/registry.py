"""Build one integration per configured CRM connection."""

from __future__ import annotations

from common.config import AmoCrmConnection, Bitrix24Connection, Settings
from common.integrations.amocrm import AmoCrmIntegration
from common.integrations.base import CrmIntegration
from common.integrations.bitrix24 import Bitrix24Integration
from common.integrations.generic import GenericIntegration


def build_integrations(settings: Settings) -> dict[str, CrmIntegration]:
    built: dict[str, CrmIntegration] = {}
    for name, connection in settings.crm.items():
        if isinstance(connection, AmoCrmConnection):
            built[name] = AmoCrmIntegration(name, connection, settings.yandex.currency)
        elif isinstance(connection, Bitrix24Connection):
            built[name] = Bitrix24Integration(name, connection)
        else:
            built[name] = GenericIntegration(name, connection)
    return built
