"""Real leadrelay processes and in-process CRM emulators, wired by a TOML file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.emulators import amocrm, bitrix24, direct, generic, metrica
from tests.emulators.faults import start
from tests.helpers import SECRET, free_port, wait_for_async

AMO_TOKEN = "amo-e2e-token"
AMO_WEBHOOK_TOKEN = "amo-hook-token"
B24_APP_TOKEN = "b24-app-token"
METRICA_TOKEN = "metrica-oauth-token"
COUNTER_ID = 44556677
DASHBOARD_PASSWORD = "e2e-dashboard-pass"
DIRECT_TOKEN = "direct-e2e-token"
PORT_KEYS = ("ingest", "webhooks", "dispatcher", "dashboard")


@dataclass
class Service:
    name: str
    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                env=self.env,
                stdout=out,
                stderr=out,
            )
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                assert self.proc.poll() is None, f"{self.name} exited: {self.log.read_text()}"
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for_async(healthy, timeout=20)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a machine dies."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@dataclass
class System:
    tmp: Path
    amo: amocrm.AmoCrm = field(default_factory=lambda: amocrm.AmoCrm(AMO_TOKEN))
    b24: bitrix24.Bitrix24 = field(default_factory=bitrix24.Bitrix24)
    shop: generic.Receiver = field(default_factory=lambda: generic.Receiver(SECRET))
    metrica: metrica.Metrica = field(
        default_factory=lambda: metrica.Metrica(METRICA_TOKEN, COUNTER_ID)
    )
    direct: direct.Direct = field(default_factory=lambda: direct.Direct(DIRECT_TOKEN))
    urls: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    runners: list = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.tmp / "data" / "leadrelay.db"

    async def start_emulators(self) -> None:
        for name, app in (
            ("amo", amocrm.create_app(self.amo)),
            ("b24", bitrix24.create_app(self.b24)),
            ("shop", generic.create_app(self.shop)),
            ("metrica", metrica.create_app(self.metrica)),
            ("direct", direct.create_app(self.direct)),
        ):
            runner, url = await start(app)
            self.runners.append(runner)
            self.urls[name] = url

    def config(self, extra: str = "", database: str = "", **sections: str) -> Path:
        """Write leadrelay.toml; `extra` is appended, `sections` adds lines to a section
        (e.g. ingest="header_timeout = 1"); `database` replaces the SQLite file (a URL)."""
        self.database = database or str(self.db_path)
        ports = {name: free_port() for name in PORT_KEYS}
        self.ports = ports
        text = f"""
database = "{self.database}"
[ingest]
port = {ports["ingest"]}
rate_limit_per_minute = 100000
[webhooks]
port = {ports["webhooks"]}
[dashboard]
port = {ports["dashboard"]}
password = "{DASHBOARD_PASSWORD}"
[dispatcher]
port = {ports["dispatcher"]}
poll_interval = 0.05
concurrency = 16
max_attempts = 100
lease_seconds = 2
shutdown_grace = 5
request_timeout = 2
retry_base_delay = 0.05
retry_max_delay = 0.5
[crm.amo]
kind = "amocrm"
base_url = "{self.urls["amo"]}"
token = "{AMO_TOKEN}"
webhook_token = "{AMO_WEBHOOK_TOKEN}"
[crm.b24]
kind = "bitrix24"
base_url = "{self.urls["b24"]}{self.b24.path}"
application_token = "{B24_APP_TOKEN}"
[crm.shop]
kind = "generic"
url = "{self.urls["shop"]}/leads"
secret = "{SECRET}"
[yandex]
base_url = "{self.urls["metrica"]}"
token = "{METRICA_TOKEN}"
counter_id = {COUNTER_ID}
target = "paid_order"
currency = "RUB"
[routing.campaigns]
"amo-campaign" = "amo"
"b24-campaign" = "b24"
"shop-campaign" = "shop"
{extra}
"""
        for section, lines in sections.items():
            text = text.replace(f"[{section}]\n", f"[{section}]\n{lines}\n", 1)
        path = self.tmp / "leadrelay.toml"
        path.write_text(text)
        return path

    def direct_section(self) -> str:
        """[direct] pointing at the emulated Reports service (for `config(extra=…)`): left
        out by default, so a dispatcher imports no costs unless a test asks for them."""
        return f'[direct]\nbase_url = "{self.urls["direct"]}"\ntoken = "{DIRECT_TOKEN}"\n'

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
        return clean | {"LEADRELAY_CONFIG": str(self.tmp / "leadrelay.toml")}

    async def start(self, *names: str) -> None:
        for name in names:
            service = Service(name, self.env(), self.ports[name], self.tmp / f"{name}.log")
            self.services[name] = await service.start()

    async def start_instance(self, name: str, instance: int) -> Service:
        """One more process of the same kind on a port of its own (as on another host)."""
        port = free_port()
        env = self.env() | {f"LEADRELAY_{name.upper()}__PORT": str(port)}
        key = f"{name}-{instance}"
        service = Service(name, env, port, self.tmp / f"{key}.log")
        self.services[key] = await service.start()
        return service

    async def close(self) -> None:
        for service in self.services.values():
            if service.proc and service.proc.poll() is None:
                service.kill()
        for runner in self.runners:
            await runner.cleanup()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "common.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
        )
