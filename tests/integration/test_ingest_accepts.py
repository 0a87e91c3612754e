"""Leads in every body format a landing page uses end as an event, a row, stats and a task."""

import json
from urllib.parse import quote, urlencode

import aiohttp
import pytest

from tests.helpers import rows, snapshot

ORIGIN = "https://landing.example.ru"


async def test_json_lead(ingest, db_path):
    body = {
        "name": "Иван",
        "phone": "8 (999) 123-45-67",
        "email": "ivan@example.ru",
        "campaign_id": "spring-sale",
        "utm_source": "yandex",
        "yclid": "4781234567890",
    }
    resp = await ingest.post("/api/v1/leads", json=body, headers={"X-Request-ID": "req-1"})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["status"] == "new" and resp.headers["X-Request-ID"] == "req-1"
    [lead] = rows(db_path, "SELECT * FROM leads")
    assert lead["id"] == answer["lead_id"]
    assert (lead["phone"], lead["campaign_id"], lead["status"]) == (
        "+79991234567",
        "spring-sale",
        "new",
    )
    [event] = rows(db_path, "SELECT * FROM events")
    assert event["type"] == "LEAD_CREATED" and event["stream_id"] == answer["lead_id"]
    assert '"request_id":"req-1"' in event["metadata"]
    [task] = rows(db_path, "SELECT * FROM tasks")
    assert (task["id"], task["type"], task["status"]) == (
        answer["task_id"],
        "send_to_crm",
        "pending",
    )
    [stats] = rows(db_path, "SELECT * FROM campaign_stats")
    assert (stats["campaign_id"], stats["leads"]) == ("spring-sale", 1)


# What a Tilda form posts with "send cookies" on: Tilda's own field names, tranid and formid,
# and the visitor's cookies; the UTM parameters travel only inside the TILDAUTM cookie,
# encodeURIComponent("utm_source=…|||utm_medium=…|||…|||"), never as utm_* fields.
TILDA_FORM = {
    "Name": "Olga",
    "Phone": "+7 (912) 345-67-89",
    "Email": "Olga@Example.RU",
    "tranid": "6842512:4837209541",
    "formid": "form581725003",
    "COOKIES": "_ym_uid=1699999999123456789; _ym_d=1699999999; tildauid=1;"
    " TILDAUTM=utm_source%3Dyandex%7C%7C%7Cutm_medium%3Dcpc%7C%7C%7Cutm_campaign%3Dautumn"
    "%7C%7C%7Cutm_content%3Dbanner%253D2%7C%7C%7C",
}


async def test_tilda_form_lead(ingest, db_path):
    resp = await ingest.post("/api/v1/leads", data=TILDA_FORM)
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT * FROM leads")
    assert lead["campaign_id"] == "autumn"  # utm_campaign from TILDAUTM
    assert (lead["utm_source"], lead["utm_medium"]) == ("yandex", "cpc")
    assert lead["utm_content"] == "banner=2"  # banner%3D2 in the URL, encoded again by Tilda
    assert lead["email"] == "Olga@example.ru"
    assert lead["ym_client_id"] == "1699999999123456789"  # from Tilda's cookies
    assert '"formid":"form581725003"' in lead["extra"]
    assert "_ym_uid" not in lead["extra"] and "TILDAUTM" not in lead["extra"]


def tilda_cookie(page_url: str) -> str:
    """TILDAUTM as Tilda's forms script (tilda-forms-1.0.js, "запоминанием utm-метки")
    builds it: href.toLowerCase(), the query split on "&", each utm_* pair kept as it stands
    in the URL (still percent-encoded) followed by "|||", then encodeURIComponent of all."""
    query = page_url.lower().split("?")[1]
    kept = "".join(pair + "|||" for pair in query.split("&") if pair[:4] == "utm_")
    return "TILDAUTM=" + quote(kept, safe="-_.!~*'()")


async def test_tildas_doubly_encoded_cookie_gives_the_campaign_as_typed(ingest, db_path):
    page = "https://landing.example.ru/?" + urlencode(
        {"utm_source": "Yandex", "utm_campaign": "лето 2026", "utm_term": "окна+двери"}
    )
    cookie = tilda_cookie(page)
    assert "%25d0%25bb" in cookie  # lower-cased, then percent-encoded a second time
    resp = await ingest.post("/api/v1/leads", data=TILDA_FORM | {"COOKIES": cookie})
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT * FROM leads")
    assert (lead["campaign_id"], lead["utm_campaign"]) == ("лето 2026", "лето 2026")
    assert (lead["utm_source"], lead["utm_term"]) == ("yandex", "окна+двери")


async def test_posted_utm_fields_win_over_tildas_cookie(ingest, db_path):
    resp = await ingest.post("/api/v1/leads", data=TILDA_FORM | {"utm_source": "vk"})
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT utm_source, utm_medium FROM leads")
    assert (lead["utm_source"], lead["utm_medium"]) == ("vk", "cpc")


async def test_tildas_retries_of_one_submission_make_one_lead(ingest, db_path):
    """Tilda waits 5 s for a 200, then sends the same submission again (twice, a minute
    apart), with the same tranid and no Idempotency-Key header."""
    answers = []
    for _ in range(3):
        resp = await ingest.post("/api/v1/leads", data=TILDA_FORM)
        assert resp.status == 200, await resp.text()
        answers.append(await resp.json())
    assert len({a["lead_id"] for a in answers}) == 1
    assert len(rows(db_path, "SELECT * FROM leads")) == 1
    other = TILDA_FORM | {
        "tranid": "6842512:4837209542",
        "Phone": "+79123456790",
        "Email": "anna@example.ru",
    }
    assert (await ingest.post("/api/v1/leads", data=other)).status == 200
    assert len(rows(db_path, "SELECT * FROM leads")) == 2  # another submission, another lead


async def test_multipart_lead_ignores_files(ingest, db_path):
    form = aiohttp.FormData()
    form.add_field("phone", "+79161234567")
    form.add_field("comment", "call after 6pm")
    form.add_field("resume", b"%PDF-1.4", filename="cv.pdf", content_type="application/pdf")
    resp = await ingest.post("/api/v1/leads", data=form)
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT * FROM leads")
    assert (lead["campaign_id"], lead["comment"]) == ("default", "call after 6pm")
    assert lead["extra"] == "{}"


async def test_tilda_probe_creates_nothing(ingest, db_path):
    await ingest.get("/healthz")  # the database exists once the app started
    before = snapshot(db_path)
    resp = await ingest.post("/api/v1/leads", data={"test": "test"})
    assert resp.status == 200
    assert (await resp.json())["status"] == "test"
    assert snapshot(db_path) == before


async def test_extra_fields_are_bounded_not_refused(ingest, db_path):
    form = {"phone": "+79161234567"} | {f"field{n}": "x" * 1200 for n in range(40)}
    resp = await ingest.post("/api/v1/leads", data=form)
    assert resp.status == 200
    [lead] = rows(db_path, "SELECT extra FROM leads")
    extra = json.loads(lead["extra"])
    assert len(extra) == 30 and all(len(v) == 1000 for v in extra.values())


async def test_cors_preflight_for_a_configured_origin(ingest):
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Idempotency-Key",
    }
    resp = await ingest.options("/api/v1/leads", headers=headers)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "IDEMPOTENCY-KEY" in resp.headers["Access-Control-Allow-Headers"].upper()

    post = await ingest.post(
        "/api/v1/leads", json={"phone": "+79161234567"}, headers={"Origin": ORIGIN}
    )
    assert post.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert post.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    plain = await ingest.post("/api/v1/leads", json={"phone": "+79161234568"})  # a server's
    assert plain.status == 200 and "Access-Control-Allow-Origin" not in plain.headers


async def test_cors_preflight_from_an_unknown_origin_is_refused(ingest):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    resp = await ingest.options("/api/v1/leads", headers=headers)
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_health_and_metrics(ingest):
    assert (await (await ingest.get("/healthz")).json())["status"] == "ok"
    await ingest.post("/api/v1/leads", json={"phone": "+79161234567", "campaign_id": "m"})
    text = await (await ingest.get("/metrics")).text()
    assert 'leadrelay_leads_created_total{campaign="m"} 1.0' in text
    assert "leadrelay_http_requests_total" in text


@pytest.mark.parametrize(
    "body",
    [
        # An old page in windows-1251 that names no charset: percent-encoded, as browsers send it…
        f"name={quote('Иван Петров', encoding='cp1251')}&phone=%2B79161234567".encode(),
        # …or raw bytes, as a hand-written form handler might.
        "name=Иван Петров&phone=+79161234567".replace("+7", "%2B7").encode("cp1251"),
    ],
)
async def test_a_form_in_windows_1251_without_a_charset_is_read_right(ingest, db_path, body):
    resp = await ingest.post(
        "/api/v1/leads", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status == 200, await resp.text()
    [lead] = rows(db_path, "SELECT name, phone FROM leads")
    assert (lead["name"], lead["phone"]) == ("Иван Петров", "+79161234567")


async def test_a_form_naming_its_charset_is_read_in_it(ingest, db_path):
    body = f"name={quote('Ольга', encoding='koi8-r')}&phone=%2B79161234567".encode()
    kind = "application/x-www-form-urlencoded; charset=koi8-r"
    resp = await ingest.post("/api/v1/leads", data=body, headers={"Content-Type": kind})
    assert resp.status == 200, await resp.text()
    assert rows(db_path, "SELECT name FROM leads")[0]["name"] == "Ольга"


async def test_a_form_in_an_unknown_charset_is_a_clear_400(ingest, db_path):
    kind = "application/x-www-form-urlencoded; charset=no-such-charset"
    resp = await ingest.post(
        "/api/v1/leads", data=b"phone=%2B79161234567", headers={"Content-Type": kind}
    )
    assert resp.status == 400
    assert "no-such-charset" in (await resp.json())["message"]
    assert rows(db_path, "SELECT count(*) AS n FROM leads")[0]["n"] == 0


def _sample(text: str, name: str) -> float:
    [value] = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(value)


async def test_metrics_show_what_group_commit_did(ingest):
    """Batches, the units they carried and the writer's time, read at each scrape: a lead
    is one more unit in at least one more batch, and no unit is left waiting."""
    names = ("batches_total", "units_total", "batch_seconds_total", "batch_cpu_seconds_total")
    names += ("batch_reruns_total", "waiting")

    async def scraped() -> dict[str, float]:
        text = await (await ingest.get("/metrics")).text()
        return {name: _sample(text, f"leadrelay_store_{name}") for name in names}

    before = await scraped()
    phones = ("+79161234567", "+79161234568", "+79161234569")
    for phone in phones:
        assert (await ingest.post("/api/v1/leads", json={"phone": phone})).status == 200
    after = await scraped()
    assert before["batches_total"] + 1 <= after["batches_total"] <= before["batches_total"] + 3
    assert after["units_total"] - before["units_total"] >= len(phones)
    assert after["batch_seconds_total"] > before["batch_seconds_total"]
    assert 0 < after["batch_cpu_seconds_total"] <= after["batch_seconds_total"] * 1.05
    assert after["batch_reruns_total"] == before["batch_reruns_total"]  # nothing failed
    assert after["waiting"] == 0
