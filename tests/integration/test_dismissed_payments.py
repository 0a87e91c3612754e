"""An unmatched payment that is not money of ours is dismissed on the dashboard, with why, and
brought back: the real dashboard and webhook apps on one real database (each backend)."""

from __future__ import annotations

import json
import re

import pytest

from common.config import Settings
from common.model import Role
from services.dashboard.app import create_app as dashboard_app
from services.webhooks.app import create_app as webhooks_app
from tests.helpers import crm_connections, rows, snapshot
from tests.integration.test_dashboard import csrf_of
from tests.integration.test_dashboard_users import PASSWORDS, add, log_in
from tests.integration.test_ingest_multipart_charsets import multipart
from tests.integration.test_webhooks import amo_form, delivered_lead, post_amo

PASSWORD = "s3cret-pass"
PAYMENTS = "/admin/payments"


@pytest.fixture
async def dash(aiohttp_client, database):
    settings = Settings(database=database, dashboard={"password": PASSWORD})
    return await aiohttp_client(dashboard_app(settings))


@pytest.fixture
async def hooks(aiohttp_client, database):
    """The webhooks with room for one open unmatched payment per connection."""
    settings = Settings(
        database=database, crm=crm_connections(), webhooks={"max_unmatched_per_connection": 1}
    )
    return await aiohttp_client(webhooks_app(settings))


async def won(hooks, crm_id: str) -> dict:
    resp = await post_amo(hooks, amo_form((crm_id, "142", "1200")))
    assert resp.status == 200
    return await resp.json()


async def token(dash) -> str:
    return csrf_of(await (await dash.get(PAYMENTS)).text())


async def post(dash, payment_id: int | str, verb: str, **form: str):
    return await dash.post(
        f"{PAYMENTS}/{payment_id}/{verb}", data={"csrf_token": await token(dash), **form}
    )


def status(database: str, payment_id: int) -> str:
    [kept] = rows(database, "SELECT status FROM unmatched_payments WHERE id = ?", (payment_id,))
    return str(kept["status"])


def audit_of(database: str, action: str) -> list[dict]:
    found = rows(database, "SELECT * FROM audit_log WHERE action = ? ORDER BY id", (action,))
    return [{**entry, "details": json.loads(entry["details"])} for entry in found]


async def test_a_dismissed_payment_makes_room_and_its_repeat_stays_dismissed(dash, hooks, database):
    first = await won(hooks, "90000001")
    assert first["status"] == "unmatched"
    assert (await won(hooks, "90000002"))["status"] == "deferred"  # the connection is full
    payment_id = first["unmatched_payment_id"]
    await log_in(dash, "admin", PASSWORD)

    done = await post(dash, payment_id, "dismiss", reason="  amoCRM demo data  ")
    page = await done.text()
    assert done.status == 200 and done.url.path == PAYMENTS
    assert "marked as not ours" in page or "отмечена как не наша" in page  # the flash
    dismissed = re.search(r'id="dismissed".*?</details>', page, re.S)[0]
    assert f'data-dismissed="{payment_id}"' in dismissed and "amoCRM demo data" in dismissed
    assert f'data-payment="{payment_id}"' not in page  # no longer among the open ones
    [kept] = rows(database, "SELECT * FROM unmatched_payments")
    assert (kept["status"], kept["dismissed_reason"]) == ("dismissed", "amoCRM demo data")
    assert kept["dismissed_at"]

    assert (await won(hooks, "90000003"))["status"] == "unmatched"  # room again
    again = await won(hooks, "90000001")  # the CRM sends the dismissed deal again
    assert again["unmatched_payment_id"] == payment_id
    refs = rows(database, "SELECT crm_ref, status FROM unmatched_payments ORDER BY id")
    assert [(r["crm_ref"], r["status"]) for r in refs] == [
        ("90000001", "dismissed"),
        ("90000003", "open"),
    ]
    [entry] = audit_of(database, "dismiss_payment")
    assert (entry["actor"], entry["target"]) == ("admin", str(payment_id))
    assert entry["details"]["reason"] == "amoCRM demo data"
    assert entry["details"]["crm_ref"] == "90000001"


async def test_a_dismissed_payment_is_brought_back_and_then_attaches(dash, hooks, database, store):
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    await add(store, "anna", Role.ADMIN)  # named users: there must be an admin among them
    await add(store, "vera", Role.STAFF)  # staff may, as they may attach
    await log_in(dash, "vera", PASSWORDS["vera"])
    assert (await post(dash, payment_id, "dismiss", reason="test deal")).status == 200

    back = await post(dash, payment_id, "reopen")
    page = await back.text()
    assert back.status == 200 and f'data-payment="{payment_id}"' in page
    assert 'id="dismissed"' not in page  # nothing dismissed is left to list
    [kept] = rows(database, "SELECT * FROM unmatched_payments")
    assert (kept["status"], kept["dismissed_at"], kept["dismissed_reason"]) == ("open", None, None)
    [entry] = audit_of(database, "reopen_payment")
    assert (entry["actor"], entry["target"]) == ("vera", str(payment_id))

    twice = await post(dash, payment_id, "reopen")  # handled already: said, nothing changed
    assert twice.status == 200 and "ничего не изменено" in await twice.text()
    assert status(database, payment_id) == "open"
    assert len(audit_of(database, "reopen_payment")) == 1


async def test_attaching_a_dismissed_payment_is_refused(dash, hooks, database, store):
    lead_id = await delivered_lead(store, "amo", "30000001")
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    await log_in(dash, "admin", PASSWORD)
    await post(dash, payment_id, "dismiss", reason="not a client of ours")
    refused = await post(dash, payment_id, "attach", lead_id=lead_id)
    assert refused.status == 409 and "сначала верните её из отклонённых" in await refused.text()
    assert status(database, payment_id) == "dismissed"
    [lead] = rows(database, "SELECT status FROM leads")
    assert lead["status"] != "paid"
    assert audit_of(database, "attach_payment") == []


async def test_a_dismissal_without_a_reason_or_csrf_changes_nothing(dash, hooks, database):
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    await log_in(dash, "admin", PASSWORD)
    before = snapshot(database)
    url = f"{PAYMENTS}/{payment_id}/dismiss"

    no_csrf = await dash.post(url, data={"reason": "demo"})
    assert no_csrf.status == 403 and "csrf_token" in await no_csrf.text()
    for reason in ("", "   "):
        empty = await post(dash, payment_id, "dismiss", reason=reason)
        said = await empty.text()
        assert empty.status == 422 and "Напишите, почему эта оплата не наша" in said
    long = await post(dash, payment_id, "dismiss", reason="x" * 201)
    assert long.status == 422 and "длиннее 200 символов" in await long.text()
    assert snapshot(database) == before  # no dismissal, no audit entry

    unknown = await post(dash, 999999, "dismiss", reason="demo")
    assert unknown.status == 404 and "По этому адресу ничего нет" in await unknown.text()
    assert (await post(dash, 999999, "reopen")).status == 404
    assert (await post(dash, "abc", "dismiss", reason="demo")).status == 404
    assert snapshot(database) == before


async def test_an_attached_payment_cannot_be_dismissed(dash, hooks, database, store):
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    await store.write(lambda tx: tx.unmatched.attach(payment_id, "lead-1"))
    await log_in(dash, "admin", PASSWORD)
    late = await post(dash, payment_id, "dismiss", reason="demo")
    assert late.status == 200 and "уже привязана или отклонена" in await late.text()
    assert status(database, payment_id) == "attached"
    assert audit_of(database, "dismiss_payment") == []


@pytest.mark.parametrize(
    ("body", "kind", "answer"),
    [
        pytest.param(b"reason=demo", "charset=nope", 400, id="unknown-charset"),
        pytest.param(b"reason=abc-9", "charset=punycode", 400, id="python-only-codec"),
        pytest.param(b"reason=demo", "charset=base64", 400, id="bytes-codec"),
        # Every dashboard form is urlencoded; aiohttp's multipart reader counted only the
        # parts' contents towards the body limit, and read a part not in UTF-8 into a 500.
        pytest.param([("reason", b"\xff\xfe", None)], "multipart", 415, id="multipart"),
        pytest.param([("n" * 1000, b"", None)] * 100, "multipart", 415, id="empty-parts"),
    ],
)
async def test_a_form_that_is_not_urlencoded_text_is_a_4xx_on_login_and_dismissal(
    dash, hooks, database, body, kind, answer
):
    """These answered 500 (the multipart ones were read whatever their size)."""
    payment_id = (await won(hooks, "90000001"))["unmatched_payment_id"]
    await log_in(dash, "admin", PASSWORD)
    before = snapshot(database)
    if kind == "multipart":
        kind = "multipart/form-data; boundary=b"
        body = multipart(("csrf_token", (await token(dash)).encode(), None), *body)
    else:
        kind = f"application/x-www-form-urlencoded; {kind}"
        body = f"csrf_token={await token(dash)}&".encode() + body
    for url in ("/login", f"{PAYMENTS}/{payment_id}/dismiss"):
        resp = await dash.post(url, data=body, headers={"Content-Type": kind})
        assert resp.status == answer, (url, await resp.text())
    assert snapshot(database) == before
    assert status(database, payment_id) == "open"
