"""Where the demo's parts meet, read from the one leadrelay configuration the demo runs on
(demo/leadrelay.demo.toml, or another file, or LEADRELAY_* variables): the emulators listen
where the configured CRMs and Metrica are, and the traffic posts where the services listen."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl

from common.config import GenericConnection, Settings
from common.welcome import local_url

LOCAL = {"127.0.0.1", "localhost"}


def emulator_ports(settings: Settings) -> dict[str, int]:
    """Each emulator's port (by its name in tests.emulators) from the URL the configuration
    gives its kind on this machine: the first such connection of each CRM kind, Metrica's and
    Direct's base_url. A URL elsewhere (the real Direct) names no emulator."""
    urls: list[tuple[str, AnyHttpUrl]] = [
        (c.kind, c.url if isinstance(c, GenericConnection) else c.base_url)
        for c in settings.crm.values()
    ]
    urls += [("metrica", settings.yandex.base_url), ("direct", settings.direct.base_url)]
    ports: dict[str, int] = {}
    for name, url in urls:
        if url.host in LOCAL and url.port is not None:
            ports.setdefault(name, url.port)
    return ports


@dataclass(frozen=True)
class Targets:
    """What demo/traffic.py talks to."""

    ingest: str
    webhooks: str  # ends with /api/v1/webhooks/crm
    leads_api: str  # the dashboard's /api/v1/leads
    api_token: str | None


def targets(settings: Settings) -> Targets:
    token = settings.dashboard.api_token
    return Targets(
        ingest=local_url(settings.ingest.host, settings.ingest.port),
        webhooks=f"{local_url(settings.webhooks.host, settings.webhooks.port)}/api/v1/webhooks/crm",
        leads_api=f"{local_url(settings.dashboard.host, settings.dashboard.port)}/api/v1/leads",
        api_token=None if token is None else token.get_secret_value(),
    )


def origin(url: str) -> str:
    """`scheme://host:port` of a URL (the Bitrix24 emulator's own routes live there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
