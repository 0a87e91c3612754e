"""`python -m tests.emulators`: run the emulated CRMs on local ports for a manual run or demo;
SIGINT or SIGTERM stops them (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Mapping

from common.config import load_settings
from demo.config import emulator_ports
from tests.emulators import amocrm, bitrix24, direct, generic, metrica
from tests.emulators.faults import start

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# Direct campaigns named after the demo traffic's campaigns, so their costs map by name.
DIRECT_CAMPAIGNS = {
    "70000001": "spring-sale",
    "70000002": "shop-landing",
    "70000003": "winter-tires",
    "70000004": "brand-search",
    "70000005": "retargeting",
}


async def serve(base_port: int, ports: Mapping[str, int]) -> None:
    amo = amocrm.AmoCrm("demo-amo-token")
    b24 = bitrix24.Bitrix24()
    shop = generic.Receiver(SECRET)
    counter = metrica.Metrica("demo-metrica-token", 12345678)
    account = direct.Direct("demo-direct-token")
    direct.seed_demo(account, DIRECT_CAMPAIGNS, days=30, zone="Europe/Moscow")
    apps = [
        ("amocrm", amocrm.create_app(amo)),
        ("bitrix24", bitrix24.create_app(b24)),
        ("generic", generic.create_app(shop)),
        ("metrica", metrica.create_app(counter)),
        ("direct", direct.create_app(account)),
    ]
    for offset, (name, app) in enumerate(apps):
        _, url = await start(app, ports.get(name, base_port + offset))
        print(f"{name:<9} {url}", flush=True)
    if ports:  # make demo: its configuration points at them already
        return await stopped()
    print(
        f"""
Point leadrelay at them (leadrelay.toml):
[crm.amo]
kind = "amocrm"
base_url = "http://127.0.0.1:{base_port}"
token = "demo-amo-token"
webhook_token = "demo-hook-token"
[crm.b24]
kind = "bitrix24"
base_url = "http://127.0.0.1:{base_port + 1}{b24.path}"
application_token = "demo-b24-token"
[crm.shop]
kind = "generic"
url = "http://127.0.0.1:{base_port + 2}/leads"
secret = "{SECRET}"
[yandex]
base_url = "http://127.0.0.1:{base_port + 3}"
token = "demo-metrica-token"
counter_id = 12345678
[direct]
base_url = "http://127.0.0.1:{base_port + 4}"
token = "demo-direct-token"

Faults: curl -d '{{"fail_rate": 0.3}}' http://127.0.0.1:{base_port}/_control
Received: curl http://127.0.0.1:{base_port}/_received""",
        flush=True,
    )
    await stopped()


async def stopped() -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9101, help="first of the ports used")
    parser.add_argument(
        "--from-config",
        action="store_true",
        help="each on the port of its URL in the leadrelay configuration, as make demo runs them",
    )
    args = parser.parse_args()
    ports = emulator_ports(load_settings()) if args.from_config else {}
    asyncio.run(serve(args.port, ports))


if __name__ == "__main__":
    main()
