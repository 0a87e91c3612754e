"""The OpenAPI document matches what the app really serves and accepts."""

from tests.helpers import rows

SAMPLES = {
    "name": "Ivan",
    "phone": "+79161234567",
    "email": "ivan@example.ru",
    "comment": "hello",
    "campaign_id": "doc-campaign",
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "doc",
    "utm_content": "banner",
    "utm_term": "buy",
    "yclid": "123456789",
    "ym_client_id": "1700000000123",
    "page_url": "https://landing.example.ru/",
    "referrer": "https://ya.ru/",
}


async def test_every_route_is_documented(ingest):
    doc = await (await ingest.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    served = set()
    for route in ingest.app.router.routes():
        if route.method not in ("HEAD", "OPTIONS", "*"):
            served.add((route.resource.canonical, route.method.lower()))
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert served == documented


async def test_every_documented_field_is_accepted_and_stored(ingest, db_path):
    doc = await (await ingest.get("/api/v1/openapi.json")).json()
    fields = set(doc["components"]["schemas"]["LeadIn"]["properties"])
    assert fields == set(SAMPLES)
    resp = await ingest.post("/api/v1/leads", json=SAMPLES)
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT * FROM leads")
    for field, value in SAMPLES.items():
        assert lead[field] == value, field
