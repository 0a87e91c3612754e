"""Seeded random input: never a 500, and a refusal writes nothing."""

import json
import random
from urllib.parse import urlencode

import pytest

from common.config import Settings
from common.signing import signed_headers
from services.ingest.app import create_app as ingest_app
from services.ingest.parsing import KNOWN
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import SECRET, crm_connections, snapshot

FIELDS = sorted(KNOWN) + ["Phone", "EMAIL", "Name", "test", "COOKIES", "formid", "", "x" * 80]
CASES = 300


def value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return rng.choice(["", " ", "test", "+79161234567", "8 (916) 123-45-67", "a@b.ru"])
    if kind == 1:
        return "".join(
            rng.choice("0123456789+-() @.abcяZ\u0000\u202e<>&'\"")
            for _ in range(rng.randrange(0, 40))
        )
    if kind == 2:
        return rng.choice([0, -1, 2**63, 3.5, float("1e308")])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return "x" * rng.choice([199, 201, 2049, 6000])
    if kind == 5:
        return rng.choice(["NaN", "Infinity", "1e999", "-0", "١٢٣"])
    if kind in (6, 7):
        return [value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(FIELDS): value(rng, depth + 1) for _ in range(rng.randrange(3))}


def body(rng: random.Random) -> dict:
    return {rng.choice(FIELDS): value(rng) for _ in range(rng.randrange(0, 8))}


async def test_ingest_never_answers_500(aiohttp_client, settings, db_path):
    ingest = await aiohttp_client(ingest_app(settings))
    rng = random.Random(20261126)
    await ingest.get("/healthz")
    statuses = set()
    for _ in range(CASES):
        fields = body(rng)
        before = snapshot(db_path)
        if rng.random() < 0.5:
            raw = json.dumps(fields if rng.random() < 0.9 else list(fields)).encode()
            resp = await ingest.post(
                "/api/v1/leads", data=raw, headers={"Content-Type": "application/json"}
            )
        else:
            form = {
                str(k): json.dumps(v) if not isinstance(v, str) else v for k, v in fields.items()
            }
            resp = await ingest.post(
                "/api/v1/leads",
                data=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        statuses.add(resp.status)
        assert resp.status < 500, (fields, await resp.text())
        assert resp.content_type == "application/json"
        if resp.status >= 400:
            assert snapshot(db_path) == before, fields
    assert {200, 422} <= statuses  # the generator reached both sides


@pytest.fixture
async def hooks(aiohttp_client, db_path):
    return await aiohttp_client(webhooks_app(Settings(database=db_path, crm=crm_connections())))


async def test_webhooks_never_answer_500(hooks, db_path):
    rng = random.Random(7)
    await hooks.get("/healthz")
    statuses = set()
    for n in range(CASES):
        payload = body(rng) | rng.choice([{}, {"type": "payment"}, {"type": "lost"}])
        if n % 2:
            raw = json.dumps(payload).encode()
            headers = signed_headers(SECRET, f"m{n}", raw) | {"Content-Type": "application/json"}
            resp = await hooks.post("/api/v1/webhooks/crm/shop", data=raw, headers=headers)
        else:
            keys = ["id", "status_id", "price"]
            form = {
                f"leads[status][{rng.randrange(3)}][{rng.choice(keys)}]": str(value(rng))
                for _ in range(rng.randrange(1, 6))
            }
            resp = await hooks.post(
                "/api/v1/webhooks/crm/amo?token=hook-secret",
                data=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        statuses.add(resp.status)
        assert resp.status < 500, (payload, await resp.text())
    assert 200 in statuses and (400 in statuses or 422 in statuses)
