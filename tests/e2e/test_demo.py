"""`make demo` as a person runs it, moved off its ports by configuration alone (a copy of
demo/leadrelay.demo.toml with other ports), then ended with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp

from tests.emulators.__main__ import DIRECT_CAMPAIGNS
from tests.helpers import free_port, wait_for_async

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ("emulators", "ingest", "webhooks", "dispatcher", "dashboard", "traffic")


def moved_demo_config(tmp_path: Path) -> tuple[Path, dict[int, int]]:
    """The demo's own file with every port changed to a free one, and its database in
    tmp_path; the map from each default port to the one used."""
    text = (ROOT / "demo" / "leadrelay.demo.toml").read_text()
    defaults = {int(port) for port in re.findall(r"(?:port = |127\.0\.0\.1:)(\d+)", text)}
    assert {8081, 8082, 8083, 8084, 9101, 9102, 9103, 9104, 9105} <= defaults
    moved = {port: free_port() for port in defaults}
    text = re.sub(r"port = (\d+)", lambda m: f"port = {moved[int(m[1])]}", text)
    text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{moved[int(m[1])]}", text)
    text = text.replace('"data/demo.db"', f'"{tmp_path / "demo.db"}"')
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path, moved


async def test_make_demo_on_other_ports_then_ctrl_c(tmp_path):
    config, moved = moved_demo_config(tmp_path)
    dashboard = f"http://127.0.0.1:{moved[8083]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    log = tmp_path / "make-demo.log"
    with log.open("wb") as out:
        make = subprocess.Popen(  # its own process group, as a terminal's foreground job
            ["make", "-o", "install-runtime", "demo", f"DEMO_CONFIG={config}"]
            + [f"BIN={Path(sys.executable).parent}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        async with aiohttp.ClientSession() as http:

            async def delivered_and_paid() -> bool:
                assert make.poll() is None, log.read_text()
                try:
                    async with http.get(
                        f"{dashboard}/api/v1/leads",
                        params={"limit": 200},
                        headers={"Authorization": "Bearer demo-api-token"},
                    ) as resp:
                        body = await resp.json() if resp.status == 200 else {}
                except aiohttp.ClientConnectionError:
                    return False
                statuses = {lead["status"] for lead in body.get("leads", [])}
                return {"sent_to_crm", "paid"} <= statuses

            # Delivered to the emulated CRMs on their moved ports, and paid through webhooks
            # by the traffic, which found the leads in the dashboard's API on its moved port.
            await wait_for_async(delivered_and_paid, timeout=90)

            async def romi_shown() -> dict | None:
                async with http.get(
                    f"{dashboard}/api/v1/stats", headers={"Authorization": "Bearer demo-api-token"}
                ) as resp:
                    report = (await resp.json())["report"] if resp.status == 200 else {}
                paid = [c for c in report.get("campaigns", []) if c["romi"] and c["sales"]]
                return report if paid else None

            # Direct's costs of the demo campaigns, imported from the moved Direct emulator,
            # meet the paid leads: a campaign with sales has its cost and ROMI.
            report = await wait_for_async(romi_shown, timeout=60)
            named = {c["campaign"].removeprefix("Direct: ") for c in report["campaigns"]}
            assert set(DIRECT_CAMPAIGNS.values()) <= named  # every demo campaign's cost
            assert Decimal(report["totals"]["cost"]) > 0
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        code = make.wait(timeout=60)
    output = log.read_text()
    assert f"dashboard: {dashboard}/admin" in output  # from make, and from the traffic
    assert "log in as admin, password demo" in output
    for name in PROCESSES:
        assert f"{name}.1 stopped (rc=0)" in output, output[-3000:]
    assert "make: ***" not in output  # no "Error 130"
    assert code in (0, -signal.SIGINT)  # make ends as an interrupted job does


def test_make_demo_empties_only_a_demo_database(tmp_path):
    real = tmp_path / "leadrelay.db"
    real.write_bytes(b"a real database")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    refused = subprocess.run(
        [sys.executable, "-m", "demo.fresh"],
        env=env | {"LEADRELAY_DATABASE": str(real)},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert refused.returncode == 2 and "named demo" in refused.stderr
    assert real.read_bytes() == b"a real database"
    demo = tmp_path / "demo.db"
    for path in (demo, tmp_path / "demo.db-wal"):
        path.write_bytes(b"yesterday's demo")
    emptied = subprocess.run(
        [sys.executable, "-m", "demo.fresh"],
        env=env | {"LEADRELAY_DATABASE": str(demo)},
        cwd=ROOT,
    )
    assert emptied.returncode == 0
    assert not demo.exists() and not (tmp_path / "demo.db-wal").exists()
