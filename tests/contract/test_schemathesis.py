"""The schemathesis gate: generated requests from every OpenAPI document a service publishes
(only ingest publishes one), sent to the real process; no answer may be a 5xx.

Bounded and seeded (hypothesis derandomised, a fixed number of cases per operation), so a
run takes seconds and a failure reproduces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.ingest.openapi import document
from tests.helpers import free_port

CASES = 150  # per operation


@pytest.fixture(scope="module")
def ingest_url(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    config = tmp / "leadrelay.toml"
    config.write_text(
        f'database = "{tmp / "leadrelay.db"}"\n'
        f"[ingest]\nport = {port}\nrate_limit_per_minute = 1000000\n"
        'cors_origins = ["https://landing.example.ru"]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    env["LEADRELAY_CONFIG"] = str(config)
    log = (tmp / "ingest.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.ingest"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, (tmp / "ingest.log").read_text()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling for the process to listen, bounded by the deadline
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


# The document the process serves at /api/v1/openapi.json (the test below checks it is).
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_5xx(case, ingest_url: str) -> None:
    response = case.call(base_url=ingest_url)
    case.validate_response(response, checks=(not_a_server_error,))


def test_the_gate_reads_the_document_the_process_serves(ingest_url: str) -> None:
    with urllib.request.urlopen(f"{ingest_url}/api/v1/openapi.json", timeout=5) as resp:
        assert json.load(resp) == document()
