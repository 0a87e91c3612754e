"""Named dashboard users and their roles, and sessions that outlive a restart: the real app
through aiohttp_client on a real database, users made the way the CLI makes them."""

from __future__ import annotations

import pytest

from common.config import Settings
from common.model import Role
from common.users import add_user, hash_password, remove_user
from services.dashboard.app import create_app
from tests.helpers import rows
from tests.integration.test_dashboard import csrf_of, seed
from tests.integration.test_lead_card import failed_lead, open_deliveries

CONFIGURED = "configured-pass"
PASSWORDS = {"anna": "anna-admin-pass", "vera": "vera-staff-pass"}
COOKIE = "leadrelay_session"


def dashboard_settings(database: str, **dashboard: str) -> Settings:
    """No secret_key: the dashboard makes its own and keeps it beside the database."""
    return Settings(database=database, dashboard={"password": CONFIGURED, **dashboard})


@pytest.fixture
async def dash(aiohttp_client, database):
    return await aiohttp_client(create_app(dashboard_settings(database)))


async def add(store, name: str, role: Role) -> None:
    hashed = hash_password(PASSWORDS[name])
    await store.write(lambda tx: add_user(tx, name, role, hashed))


async def log_in(dash, name: str, password: str):
    token = csrf_of(await (await dash.get("/login")).text())
    form = {"username": name, "password": password, "csrf_token": token, "next": "/admin"}
    return await dash.post("/login", data=form, allow_redirects=False)


async def a_failed_task(store) -> int:
    await seed(store)
    [task] = await store.write(lambda tx: tx.tasks.claim_due(limit=1, lease=60))
    await store.write(lambda tx: tx.tasks.fail(task.id, "HTTP 400: bad phone"))
    return task.id


async def post(dash, path: str, **headers: str):
    token = csrf_of(await (await dash.get("/admin/tasks", headers=headers)).text())
    return await dash.post(path, data={"csrf_token": token}, headers=headers, allow_redirects=False)


def sessions(database: str) -> list[tuple[str, str]]:
    kept = rows(database, "SELECT username, role FROM dashboard_sessions ORDER BY username")
    return [(r["username"], r["role"]) for r in kept]


async def test_a_restart_on_the_same_database_keeps_the_session(aiohttp_client, database):
    first = await aiohttp_client(create_app(dashboard_settings(database)))
    assert (await log_in(first, "admin", CONFIGURED)).status == 302
    cookie = first.session.cookie_jar.filter_cookies(first.make_url("/"))[COOKIE].value
    await first.close()  # the dashboard stops: its store closes

    restarted = await aiohttp_client(create_app(dashboard_settings(database)))
    page = await restarted.get("/admin", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert page.status == 200 and page.url.path == "/admin"
    # A configured key signs instead when one is given: the generated one is not used then.
    keyed = await aiohttp_client(create_app(dashboard_settings(database, secret_key="k" * 40)))
    other = await keyed.get(
        "/admin", headers={"Cookie": f"{COOKIE}={cookie}"}, allow_redirects=False
    )
    assert other.status == 302 and other.headers["Location"].startswith("/login")


async def test_the_configured_login_is_the_admin_until_the_first_named_user(dash, store, database):
    assert (await log_in(dash, "admin", CONFIGURED)).status == 302
    assert sessions(database) == [("admin", "admin")]
    await add(store, "anna", Role.ADMIN)
    assert sessions(database) == []  # the shared login's sessions closed with it
    resp = await dash.get("/admin", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    assert (await log_in(dash, "admin", CONFIGURED)).status == 401
    assert (await log_in(dash, "anna", "wrong-password")).status == 401
    assert (await log_in(dash, "nobody", PASSWORDS["anna"])).status == 401
    assert (await log_in(dash, "anna", PASSWORDS["anna"])).status == 302
    assert sessions(database) == [("anna", "admin")]
    assert (await dash.get("/admin")).status == 200


async def test_staff_work_with_leads_but_bulk_actions_are_an_admin_s(dash, store, database):
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    task_id = await a_failed_task(store)
    assert (await log_in(dash, "vera", PASSWORDS["vera"])).status == 302
    assert sessions(database) == [("vera", "staff")]
    for page in ("/admin", "/admin/leads", "/admin/leads.csv", "/admin/tasks", "/admin/payments"):
        assert (await dash.get(page)).status == 200, page

    refused = await post(dash, "/admin/tasks/retry-failed")
    assert refused.status == 403 and refused.content_type == "text/html"
    text = await refused.text()
    assert "Повторить все задачи с ошибками может только администратор" in text
    assert "vera" in text
    english = await post(dash, "/admin/tasks/retry-failed", Cookie="lang=en")
    assert "Retrying every failed task is for an admin" in await english.text()
    still = await store.read(lambda tx: tx.tasks.get(task_id))
    assert still.status == "failed"  # nothing was retried

    assert (await post(dash, "/admin/no-such-form")).status == 404  # not a refusal

    one = await post(dash, f"/admin/tasks/{task_id}/retry")  # one lead: staff may
    assert one.status == 302
    assert (await store.read(lambda tx: tx.tasks.get(task_id))).status == "pending"


async def test_staff_may_send_one_lead_again_from_its_card(dash, store):
    """The card's "Send again" is the same action as retrying that lead's task on /admin/tasks,
    which staff may: the button they see must not answer 403."""
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    lead_id = await failed_lead(store)
    assert (await log_in(dash, "vera", PASSWORDS["vera"])).status == 302
    page = await (await dash.get(f"/admin/leads/{lead_id}")).text()
    assert 'id="send-again"' in page
    url = f"/admin/leads/{lead_id}/send-again"
    resp = await dash.post(url, data={"csrf_token": csrf_of(page)}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    assert open_deliveries(store, lead_id) == [{"status": "pending", "attempts": 0}]


async def test_an_admin_may_retry_everything(dash, store):
    await add(store, "anna", Role.ADMIN)
    task_id = await a_failed_task(store)
    assert (await log_in(dash, "anna", PASSWORDS["anna"])).status == 302
    assert (await post(dash, "/admin/tasks/retry-failed")).status == 302
    assert (await store.read(lambda tx: tx.tasks.get(task_id))).status == "pending"


async def test_a_removed_user_is_logged_out_at_once(dash, store, database):
    await add(store, "anna", Role.ADMIN)
    await add(store, "vera", Role.STAFF)
    assert (await log_in(dash, "vera", PASSWORDS["vera"])).status == 302
    assert (await dash.get("/admin")).status == 200
    await store.write(lambda tx: remove_user(tx, "vera"))
    resp = await dash.get("/admin", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    assert sessions(database) == []
