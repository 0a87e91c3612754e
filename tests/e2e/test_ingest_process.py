"""The ingest service as a real process: post over HTTP, find everything in the database."""

import os
import subprocess
import sys

import aiohttp

from tests.helpers import free_port, rows, wait_for_async


async def test_posted_lead_reaches_the_database(tmp_path, db_path):
    port = free_port()
    env = os.environ | {
        "LEADRELAY_DATABASE": str(db_path),
        "LEADRELAY_INGEST__PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.ingest"], env=env, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy():
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for_async(healthy, timeout=15)
            async with http.post(
                f"{base}/api/v1/leads", data={"Phone": "+7 916 123-45-67", "Name": "E2E"}
            ) as resp:
                assert resp.status == 200
                answer = await resp.json()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    [event] = rows(db_path, "SELECT * FROM events")
    assert (event["stream_id"], event["type"]) == (answer["lead_id"], "LEAD_CREATED")
    [lead] = rows(db_path, "SELECT * FROM leads")
    assert lead["phone"] == "+79161234567"
    [stats] = rows(db_path, "SELECT * FROM campaign_stats")
    assert (stats["campaign_id"], stats["leads"]) == ("default", 1)
    [task] = rows(db_path, "SELECT * FROM tasks")
    assert (task["id"], task["status"]) == (answer["task_id"], "pending")
    assert b"+79161234567" not in err  # logs mask the phone
    assert b"lead accepted" in err

    cli = subprocess.run(
        [sys.executable, "-m", "common.cli", "verify"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "verify: ok, 1 events" in cli.stdout
