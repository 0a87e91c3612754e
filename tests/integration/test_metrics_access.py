"""/metrics answers only the scraper beside the process, and stays small under junk campaigns."""

from common.config import Settings
from services.ingest.app import create_app
from tests.helpers import SECRET, rows


def ingest_settings(database: str, **ingest: object) -> Settings:
    return Settings(
        database=database,
        ingest={"rate_limit_per_minute": 10_000} | ingest,
        crm={"amo": {"kind": "generic", "url": "https://crm.example.ru/leads", "secret": SECRET}},
        routing={"campaigns": {"Summer": "amo"}},
    )


async def test_metrics_are_refused_to_other_addresses_and_to_proxied_requests(
    aiohttp_client, settings
):
    ingest = await aiohttp_client(create_app(settings))  # from 127.0.0.1: the default
    assert (await ingest.get("/metrics")).status == 200
    # Through a proxy on this host the peer is loopback too: the forwarded header tells.
    proxied = await ingest.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status == 403
    assert (await proxied.json())["error"] == "forbidden"
    elsewhere = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"metrics_from": ["10.0.0.0/8"]})}
    )
    other = await aiohttp_client(create_app(elsewhere))
    refused = await other.get("/metrics")
    assert refused.status == 403 and "metrics_from" in (await refused.json())["message"]
    assert (await other.get("/healthz")).status == 200  # health stays open to monitors


async def test_campaigns_past_the_cap_are_counted_as_other_in_metrics_only(
    aiohttp_client, database
):
    ingest = await aiohttp_client(create_app(ingest_settings(database, metrics_campaigns=3)))
    campaigns = [f"junk-{n}" for n in range(300)] + ["summer", "SUMMER", "Junk-0"]
    for n, campaign in enumerate(campaigns):
        lead = {"phone": f"+7916{n:07d}", "campaign_id": campaign}
        assert (await ingest.post("/api/v1/leads", json=lead)).status == 200
    text = await (await ingest.get("/metrics")).text()
    created = [line for line in text.splitlines() if line.startswith("leadrelay_leads_created")]
    assert sorted(created) == [
        # configured campaigns keep their own series, matched without case
        'leadrelay_leads_created_total{campaign="Summer"} 2.0',
        'leadrelay_leads_created_total{campaign="junk-0"} 2.0',
        'leadrelay_leads_created_total{campaign="junk-1"} 1.0',
        'leadrelay_leads_created_total{campaign="junk-2"} 1.0',
        'leadrelay_leads_created_total{campaign="other"} 297.0',
    ]
    assert len(text) < 8_000
    # The leads themselves keep every campaign (the dashboard shows each).
    [kept] = rows(database, "SELECT count(DISTINCT campaign_id) AS n FROM leads")
    assert kept["n"] == len(campaigns)  # as each was sent
