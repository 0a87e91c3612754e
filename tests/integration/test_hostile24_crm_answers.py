"""A CRM that answers a lead's delivery as a broken or hostile server would: a 200 whose
ids are junk, a Retry-After no date holds, a body of 50 MB or without end.

Each lead is kept (delivered later, or failed with the reason on it) and never added twice;
the dispatcher's real delivery (CrmDelivery) runs against a small server on a real socket.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import orjson
import pytest
from aiohttp import web

from common import clock, deals
from common.config import Settings
from common.integrations.base import ANSWER_LIMIT, Reply, TemporaryFailure
from common.integrations.registry import build_integrations
from common.reconciling import Window
from tests.emulators.faults import start
from tests.helpers import crm_connections, rows
from tests.integration.test_crm_duplicates import deliver_due, new_lead

Answer = Callable[[web.Request], web.StreamResponse]


@pytest.fixture
async def hostile():
    """A server answering every call with `answer` (set by the test); `posts` counts them."""
    state = {"answer": None, "posts": 0, "sent": 0}

    async def anything(request: web.Request) -> web.StreamResponse:
        await request.read()
        state["posts"] += 1
        return await state["answer"](request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner, url = await start(app)
    state["url"] = url
    yield state
    await runner.cleanup()


def fixed(status: int, body: bytes, headers: dict[str, str] | None = None):
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers or {})

    return answer


def configured(settings, url: str, route: str, b24_code: str = "abc") -> Settings:
    connections = crm_connections(f"{url}/rest/1/{b24_code}", base_url=url)
    connections["shop"]["url"] = f"{url}/leads"
    return Settings(database=settings.database, crm=connections, routing={"default_crm": route})


def task_and_lead(store) -> tuple[dict, dict]:
    [task] = rows(store.location, "SELECT status, last_error, run_after FROM tasks")
    [lead] = rows(store.location, "SELECT status, crm_lead_id FROM leads")
    return task, lead


# amoCRM's POST /api/v4/leads/complex answers an array of {"id": <integer>, "contact_id",
# "company_id", "request_id", "merged"} (Kommo API reference, "Complex adding of leads").
AMO_JUNK = {
    "a list of a number": b"[1]",
    "a list of null": b"[null]",
    "an id of letters": b'[{"id": "abc"}]',
    "a null id": b'[{"id": null}]',
    "a fractional id": b'[{"id": 1.5}]',
    "a boolean id": b'[{"id": true}]',
}


@pytest.mark.parametrize("body", list(AMO_JUNK.values()), ids=list(AMO_JUNK))
async def test_an_amocrm_200_with_a_junk_id_fails_the_lead_once_and_says_why(
    settings, store, hostile, body
):
    """The 200 may mean the lead is in the CRM: a retry would add it a second time (amoCRM
    has no request id to look a lead up by). Before: int("abc") or "id" in 1 raised out of
    the delivery, an "internal error" tried again an hour later."""
    hostile["answer"] = fixed(200, body, {"Content-Type": "application/hal+json"})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "amo"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "failed"
    assert "answered HTTP 200 without a lead id" in task["last_error"]
    assert lead == {"status": "crm_failed", "crm_lead_id": None}
    assert hostile["posts"] == 1  # no note, no second add


# crm.lead.add's result is the new lead's integer ID (b24restdocs, crm-lead-add.md).
B24_JUNK = {
    "null": b'{"result": null}',
    "false": b'{"result": false}',
    "a list": b'{"result": [501]}',
    "an object": b'{"result": {"ID": 501}}',
    "letters": b'{"result": "ok"}',
}


@pytest.mark.parametrize("body", list(B24_JUNK.values()), ids=list(B24_JUNK))
async def test_a_bitrix24_add_answered_without_an_id_keeps_no_junk_id(
    settings, store, hostile, body
):
    """Before: the lead was "sent" with crm_lead_id "None", "False" or "[501]", which no
    payment webhook names. Now it is tried again (the retry looks for it by ORIGIN_ID
    first, so it is not added twice)."""
    hostile["answer"] = fixed(200, body, {"Content-Type": "application/json"})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "b24"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and "without a lead id" in task["last_error"]
    assert lead["crm_lead_id"] is None and lead["status"] != "sent_to_crm"


@pytest.mark.parametrize("body", [b"{}", b'{"time": {"start": 1}}'], ids=["{}", "time only"])
async def test_a_bitrix24_add_answered_200_without_a_result_is_tried_again(
    settings, store, hostile, body
):
    """A 200 that is no error and holds no `result` may follow an add the portal made: it
    is asked again, and the retry looks for the lead by ORIGIN_ID first. Before: the lead
    failed for good, and its "Send again" could add it a second time."""
    hostile["answer"] = fixed(200, body, {"Content-Type": "application/json"})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "b24"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and "without a result" in task["last_error"]
    assert lead["status"] != "crm_failed"


FAR = {
    "thirty digits": "9" * 30,  # float 1e30: past any date, timedelta overflowed
    "four hundred digits": "9" * 400,  # float inf
    "a date in 2099": "Wed, 21 Oct 2099 07:28:00 GMT",
}


@pytest.mark.parametrize("retry_after", list(FAR.values()), ids=list(FAR))
async def test_a_retry_after_far_away_waits_at_most_retry_max_delay(
    settings, store, hostile, retry_after
):
    """RFC 9110 §10.2.3: Retry-After is a delay or a date. Before: 30 digits raised an
    OverflowError writing the retry (an "internal error"), and a date in 2099 parked the
    lead until then, neither tried nor failed."""
    hostile["answer"] = fixed(429, b"", {"Retry-After": retry_after})
    await new_lead(store, "spring")
    config = configured(settings, hostile["url"], "shop")
    await deliver_due(config, store)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and "answered HTTP 429" in task["last_error"]
    latest = clock.now() + timedelta(seconds=config.dispatcher.retry_max_delay + 60)
    assert clock.parse(task["run_after"]) <= latest
    assert lead["status"] == "new"


async def test_a_retry_after_in_lower_case_is_waited_for(settings, store, hostile):
    """RFC 9110 §5.1: a field name is case-insensitive, and HTTP/2 and many proxies send
    them in lower case. Before, the answer's headers were copied into a dict and looked up
    as "Retry-After": aiohttp's C parser gives well-known names that case, but its pure-Python
    parser (AIOHTTP_NO_EXTENSIONS, or a platform without its wheel) keeps the case sent, and
    there this test failed: the lead was tried again within seconds."""
    hostile["answer"] = fixed(429, b"", {"retry-after": "600"})
    await new_lead(store, "spring")
    before = clock.now()
    await deliver_due(configured(settings, hostile["url"], "shop"), store)
    task, _ = task_and_lead(store)
    assert task["status"] == "pending"
    assert clock.parse(task["run_after"]) >= before + timedelta(seconds=600)


async def test_a_redirect_named_in_lower_case_is_shown(settings, store, hostile):
    """As above: before, with aiohttp's pure-Python parser, "(no Location header)"."""
    hostile["answer"] = fixed(301, b"", {"location": "https://moved.example/leads"})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "shop"), store)
    task, _ = task_and_lead(store)
    assert "redirecting to https://moved.example (the same path)" in task["last_error"]


def test_a_retry_after_of_a_digit_no_float_reads_is_no_retry_after():
    """str.isdigit takes "²" (Latin-1 0xB2, as a header can carry it); float does not."""
    assert Reply(429, "", {"Retry-After": "²"}).retry_after() is None
    assert Reply(429, "", {"Retry-After": " 7 "}).retry_after() == 7.0
    assert Reply(429, "", {"retry-after": "7"}).retry_after() == 7.0


def streamed(megabytes: int | None, counter: dict, declared: bool = False):
    """A 200 of `megabytes` MB (None: without end), counting what it got to send; with
    `declared`, its Content-Length says so."""

    async def answer(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        if declared and megabytes is not None:
            resp.content_length = (megabytes << 20) + len(b'{"id": "7"}')
        await resp.prepare(request)
        chunk = b" " * (1 << 20)
        while megabytes is None or counter["sent"] < megabytes:
            try:
                await resp.write(chunk)
            except ConnectionError:
                return resp
            counter["sent"] += 1
        await resp.write(b'{"id": "7"}')
        return resp

    return answer


@pytest.mark.parametrize(
    ("megabytes", "declared"),
    [(50, False), (50, True), (None, False)],
    ids=["50 MB", "50 MB with its Content-Length", "without end"],
)
async def test_a_huge_answer_is_not_read_whole_and_the_lead_waits(
    settings, store, hostile, megabytes, declared
):
    """Before: the whole body was read into memory (and decoded: twice its size), in
    every slot that met it; one without end held its slot until the time-out."""
    hostile["answer"] = streamed(megabytes, hostile, declared)
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "shop"), store, timeout=30)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and f"more than {ANSWER_LIMIT} bytes" in task["last_error"]
    assert lead["status"] == "new"
    # It stopped reading at the limit (not at the 30 s time-out): what the server got out
    # is the limit and what the sockets' buffers held, far from 50 MB.
    assert hostile["sent"] < ANSWER_LIMIT // (1 << 20) + 16


async def test_an_answer_trickling_a_byte_a_second_ends_at_the_time_out(settings, store, hostile):
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        for byte in b'{"id": "7"}' * 100:
            await resp.write(bytes([byte]))
            await asyncio.sleep(1.0)  # the server's pace, not a synchronisation
        return resp

    hostile["answer"] = trickle
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "shop"), store, timeout=1.5)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and "did not answer in time" in task["last_error"]
    assert lead["status"] == "new"  # the 1,100 bytes would have taken 18 minutes


async def test_a_renamed_bitrix24_portal_redirect_keeps_the_webhook_code_out_of_logs_and_tasks(
    settings, store, hostile, caplog
):
    """A renamed portal answers 301 to the same path on its new name, and that path holds
    the inbound webhook's secret code (b24restdocs, "Inbound webhooks": whoever has the URL
    can call the REST API). Before: the whole Location was in the task's last_error, the
    lead's timeline and the dispatcher's log."""
    code = "k3y0fth3w3bh00k7"
    moved = f"https://renamed.bitrix24.ru/rest/1/{code}/crm.lead.add.json"
    hostile["answer"] = fixed(301, b"", {"Location": moved})
    caplog.set_level(logging.INFO)
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "b24", b24_code=code), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "pending" and lead["status"] == "new"
    assert "redirecting to https://renamed.bitrix24.ru (the same path)" in task["last_error"]
    stored_text = str(rows(store.location, "SELECT * FROM tasks")) + str(
        rows(store.location, "SELECT * FROM events")
    )
    logged = str([record.__dict__ for record in caplog.records])  # message and fields
    assert code not in stored_text and code not in logged
    assert "renamed.bitrix24.ru" in logged  # the delivery's line was written, without it


def won(**fields: object) -> dict[str, object]:
    """A won Bitrix24 deal without a lead of ours, as crm.deal.get's `result` gives it."""
    return {"STAGE_SEMANTIC_ID": "S", "OPPORTUNITY": "5000", "CURRENCY_ID": "RUB", **fields}


async def test_bitrix24_deals_read_without_their_id_are_two_payments_not_one(
    settings, store, hostile
):
    """crm.deal.get answers the deal's fields, ID among them (b24restdocs, crm-deal-get.md).
    Before: two won deals read without it were both deal "": the second one's 5,000 RUB was
    taken for the first one's again and kept nowhere."""

    async def deal(request: web.Request) -> web.Response:
        return web.json_response({"result": won()})

    hostile["answer"] = deal
    b24 = build_integrations(configured(settings, hostile["url"], "b24"))["b24"]
    async with aiohttp.ClientSession() as http:
        for deal_id in ("101", "102"):
            task_id, payload = await store.write(
                lambda tx, d=deal_id: deals.store_notice(tx, "b24", d, b"event=ONCRMDEALUPDATE")
            )
            answer = await deals.resolve(store, b24, http, task_id, payload, {})
            assert answer["status"] == "unmatched"
    kept = rows(store.location, "SELECT crm_ref, amount FROM unmatched_payments ORDER BY id")
    assert kept == [
        {"crm_ref": "deal:101", "amount": "5000.00"},
        {"crm_ref": "deal:102", "amount": "5000.00"},
    ]


async def test_a_bitrix24_deal_read_as_another_deal_is_not_applied(settings, store, hostile):
    hostile["answer"] = fixed(200, orjson.dumps({"result": won(ID="99")}))
    b24 = build_integrations(configured(settings, hostile["url"], "b24"))["b24"]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TemporaryFailure, match="answered deal '99' for deal 101"):
            await b24.resolve_deal(http, "101")


async def test_a_bitrix24_list_of_deals_skips_and_counts_those_without_an_id(settings, hostile):
    listed = [won(ID="7"), won(), won(ID=None), won(ID="x")]
    hostile["answer"] = fixed(200, orjson.dumps({"result": listed}))
    b24 = build_integrations(configured(settings, hostile["url"], "b24"))["b24"]
    now = clock.now()
    async with aiohttp.ClientSession() as http:
        page = await b24.closed_page(http, Window(now - timedelta(hours=1), now, None))
    assert [deal["ID"] for deal in page.items] == ["7"] and page.skipped == 3


GENERIC_IDS = {
    "5,000 characters": {"id": "x" * 5000},
    "an object": {"id": {"crm": 7}},
    "a boolean": {"id": True},
    "a fraction": {"id": 1.5},
    "a NUL": {"id": "7\u00008"},  # PostgreSQL refuses it in text
}


@pytest.mark.parametrize("body", list(GENERIC_IDS.values()), ids=list(GENERIC_IDS))
async def test_a_generic_answer_with_an_id_no_webhook_can_name_is_delivered_without_it(
    settings, store, hostile, body
):
    """A payment webhook names the CRM's id as a string of at most 100 characters (README,
    "Any other CRM"). Before: "xxxx…" (5,000), "{'crm': 7}", "True" or "1.5" was kept as
    the lead's crm_lead_id; one holding a NUL could not be written on PostgreSQL."""
    hostile["answer"] = fixed(200, orjson.dumps(body), {"Content-Type": "application/json"})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "shop"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "completed"
    assert lead == {"status": "sent_to_crm", "crm_lead_id": None}
    [sent] = rows(store.location, "SELECT data FROM events WHERE type = 'LEAD_SENT_TO_CRM'")
    assert "the answer's id was not kept" in sent["data"] and "xxxx" not in sent["data"]


async def test_an_error_answer_holding_a_nul_is_kept_as_the_reason(settings, store, hostile):
    """PostgreSQL refuses U+0000 in text; SQLite keeps it. The reason must be written on
    both, or the failure itself could not be recorded."""
    hostile["answer"] = fixed(
        400, b'{"error": "bad\\u0000field\x00"}', {"Content-Type": "application/json"}
    )
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "shop"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "failed" and "HTTP 400" in task["last_error"]
    assert lead["status"] == "crm_failed"


async def test_an_error_page_that_echoes_the_address_keeps_the_webhook_code_out(
    settings, store, hostile
):
    """A web server's 404 page names the path asked for ("The requested URL /rest/1/<code>/
    crm.lead.add.json was not found on this server"), and a Bitrix24 inbound webhook's path
    holds its secret code. Before: the page's text, code and all, was the lead's failure."""
    code = "k3y0fth3w3bh00k7"

    async def not_found(request: web.Request) -> web.Response:
        page = f"<p>The requested URL {request.path_qs} was not found on this server.</p>"
        return web.Response(status=404, text=page, content_type="text/html")

    hostile["answer"] = not_found
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "b24", b24_code=code), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "failed" and "HTTP 404" in task["last_error"]
    assert "was not found on this server" in task["last_error"]
    stored_text = str(rows(store.location, "SELECT * FROM tasks")) + str(
        rows(store.location, "SELECT * FROM events")
    )
    assert code not in stored_text


async def test_an_error_body_that_echoes_the_token_keeps_it_out(settings, store, hostile):
    async def echo(request: web.Request) -> web.Response:
        said = {"title": "Unavailable", "detail": f"got {request.headers['Authorization']}"}
        return web.json_response(said, status=503)

    hostile["answer"] = echo
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "amo"), store)
    task, _ = task_and_lead(store)
    assert task["status"] == "pending" and "HTTP 503" in task["last_error"]
    assert "amo-secret" not in task["last_error"]


B24_LISTS = {
    "an object": b'{"result": {"ID": "501"}}',
    "a string": b'{"result": "501"}',
    "a row without ID": b'{"result": [{"TITLE": "x"}]}',
    "an ID of letters": b'{"result": [{"ID": "abc"}]}',
}


@pytest.mark.parametrize("body", list(B24_LISTS.values()), ids=list(B24_LISTS))
async def test_a_bitrix24_lead_list_that_lists_nothing_readable_adds_no_second_lead(
    settings, store, hostile, body
):
    """The first add's answer was a 503, so the retry first looks for the lead by ORIGIN_ID
    (crm.lead.list's `result` is an array of leads, b24restdocs crm-lead-list.md). Before:
    a list it could not read counted as "not there", and crm.lead.add went a second time."""
    calls: list[str] = []

    async def portal(request: web.Request) -> web.Response:
        calls.append(request.path.rsplit("/", 1)[-1])
        if calls[-1] == "crm.lead.add.json":
            return web.json_response({"error": "INTERNAL_SERVER_ERROR"}, status=503)
        return web.Response(body=body, content_type="application/json")

    hostile["answer"] = portal
    await new_lead(store, "spring")
    config = configured(settings, hostile["url"], "b24")
    await deliver_due(config, store)
    await deliver_due(config, store)
    task, lead = task_and_lead(store)
    assert calls == ["crm.lead.add.json", "crm.lead.list.json"]
    assert task["status"] == "pending" and "crm.lead.list gave no list" in task["last_error"]


LABELS = {
    "a UTF-16 label": ("application/json; charset=utf-16", b'[{"id": 7}]'),
    "a label Python does not know": ("application/json; charset=x-junk", b'[{"id": 7}]'),
    "a byte order mark": ("application/json", b'\xef\xbb\xbf[{"id": 7}]'),
    "text/html on JSON": ("text/html; charset=windows-1251", b'[{"id": 7}]'),
    # Python's codecs that are no text encoding (bytes.decode raised LookupError: an internal
    # error, the lead retried an hour later) and ones no browser reads: not charsets at all.
    "a Python codec as the charset": ("text/plain; charset=base64", b'[{"id": 7}]'),
    "utf-7 as the charset": ("text/plain; charset=utf-7", b'[{"id": 7}]'),
}


@pytest.mark.parametrize(("content_type", "body"), list(LABELS.values()), ids=list(LABELS))
async def test_an_amocrm_answer_under_a_wrong_label_is_read_as_the_utf8_json_it_is(
    settings, store, hostile, content_type, body
):
    """RFC 8259 §11: JSON has no charset parameter, and a recipient ignores one. Before: a
    UTF-16 label made the answer junk, and a lead the CRM had taken failed for good."""
    hostile["answer"] = fixed(200, body, {"Content-Type": content_type})
    await new_lead(store, "spring")
    await deliver_due(configured(settings, hostile["url"], "amo"), store)
    task, lead = task_and_lead(store)
    assert task["status"] == "completed" and lead == {"status": "sent_to_crm", "crm_lead_id": "7"}
