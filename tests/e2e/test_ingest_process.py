"""The ingest service as a real process: post over HTTP, find everything in the database."""

import asyncio
import signal
import subprocess
import sys

import aiohttp
import pytest

from tests.helpers import rows


async def test_posted_lead_reaches_the_database(system):
    system.config()
    await system.start("ingest")
    ingest = system.services["ingest"]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{ingest.url}/api/v1/leads", data={"Phone": "+7 916 123-45-67", "Name": "E2E"}
        ) as resp:
            assert resp.status == 200
            answer = await resp.json()
    assert ingest.stop() == 0  # SIGTERM: a clean exit
    db = system.db_path
    [event] = rows(db, "SELECT * FROM events")
    assert (event["stream_id"], event["type"]) == (answer["lead_id"], "LEAD_CREATED")
    [lead] = rows(db, "SELECT * FROM leads")
    assert lead["phone"] == "+79161234567"
    [stats] = rows(db, "SELECT * FROM campaign_stats")
    assert (stats["campaign_id"], stats["leads"]) == ("default", 1)
    [task] = rows(db, "SELECT * FROM tasks")
    assert (task["id"], task["status"]) == (answer["task_id"], "pending")
    logs = ingest.log.read_text()
    assert "lead accepted" in logs
    assert "+79161234567" not in logs and "E2E" not in logs  # personal data is masked

    verify = system.cli("verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verify: ok, 1 events" in verify.stdout


async def test_a_malformed_request_logs_no_secret_and_no_phone(system):
    """aiohttp's "Error handling request" line carried the raw request line and headers."""
    system.config()
    await system.start("webhooks")
    webhooks = system.services["webhooks"]
    request = (
        b"POST /api/v1/webhooks/crm/amo?token=amo-hook-token&phone=+79161234567 HTTP/1.1\r\n"
        b"Host: x\r\nBad Header +79161234567\r\n\r\n"
    )
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", webhooks.port)
        writer.write(request)
        assert (await reader.read(12)).startswith(b"HTTP/1.")
        writer.close()
    assert webhooks.stop() == 0  # flushes the log
    text = webhooks.log.read_text()
    assert "malformed or broken request refused" in text
    assert "amo-hook-token" not in text and "79161234567" not in text


async def test_the_demo_traffic_keeps_running_after_its_leads(system):
    """honcho stops every process when one exits: the traffic generator must not exit, or
    `make demo` takes the dashboard down a minute after it starts."""
    system.config()
    await system.start("ingest")
    proc = subprocess.Popen(  # it posts where the configuration says ingest listens
        [sys.executable, "-m", "demo.traffic", "--leads", "2", "--payment-rounds", "0"],
        env=system.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ingest = f"http://127.0.0.1:{system.ports['ingest']}"
        assert proc.stdout.readline() == f"demo traffic: posting 2 leads to {ingest}\n"
        assert "Everything keeps running until Ctrl-C" in proc.stdout.readline()
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)  # it stays up after its traffic
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert len(rows(system.db_path, "SELECT id FROM leads")) == 2
