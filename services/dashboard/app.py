"""The dashboard application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware

from common import appkeys
from common.config import Settings
from common.integrations.registry import build_integrations
from common.ratelimit import KeyedLimiter
from common.store.replay import StreamReplayer
from common.web import base_app
from services.dashboard import (
    access,
    alert_chats,
    api,
    audit_page,
    auth,
    connections,
    erasure,
    lead_card,
    lead_export,
    lead_list,
    pages,
    payments,
    problems,
    queue,
    reports,
    views,
)
from services.dashboard.keys import INTEGRATIONS, LOGIN_LIMITER, QUERIES, REPLAYER, SESSIONS
from services.dashboard.queries import DashboardQueries
from services.dashboard.stall_watch import stall_watch

HERE = Path(__file__).parent
FAILED_LOGINS_PER_MINUTE = 5


def create_app(settings: Settings) -> web.Application:
    app = base_app(
        settings,
        "dashboard",
        trusted_proxies=settings.dashboard.trusted_proxies,  # the real client address
        middlewares=(
            auth.sessions,
            auth.security_headers,
            pages.html_errors,  # inside security_headers: error pages get its headers too
            auth.require_login,
        ),
    )
    app[LOGIN_LIMITER] = KeyedLimiter(FAILED_LOGINS_PER_MINUTE, 60.0)
    app[INTEGRATIONS] = build_integrations(settings)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[pages.page_context],
    )
    # After aiohttp-jinja2's own middleware (setup appends it), so a refusal is a whole page.
    app.middlewares.append(auth.no_nul_in_address)
    app.middlewares.append(access.admin_only)
    app.cleanup_ctx.append(dashboard_services)
    app.cleanup_ctx.append(stall_watch)  # alerts when the task queue stalls (issue 19)
    add_routes(app)
    return app


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", views.root, name="root")
    r.add_get("/login", views.login_page, name="login_page")
    r.add_post("/login", views.login, name="login")
    r.add_post("/logout", views.logout, name="logout")
    r.add_post("/lang", views.set_language, name="lang")
    r.add_get("/admin", views.admin, name="admin")
    r.add_get("/admin/campaigns.csv", views.export_campaigns, name="campaigns_csv")
    r.add_get("/admin/campaigns.xlsx", reports.campaigns_download, name="campaigns_xlsx")
    r.add_get("/admin/reports/utm", reports.utm_page, name="utm_report")
    r.add_get("/admin/reports/utm.{kind:csv|xlsx}", reports.utm_download, name="utm_download")
    r.add_get("/admin/reports/days", reports.days_page, name="days_report")
    r.add_get("/admin/reports/days.{kind:csv|xlsx}", reports.days_download, name="days_download")
    r.add_get("/admin/leads", lead_list.page, name="leads")
    r.add_get("/admin/leads.csv", lead_export.csv_file, name="leads_csv")
    r.add_get("/admin/leads.xlsx", lead_export.xlsx_file, name="leads_xlsx")
    r.add_get("/admin/leads/{lead_id}", lead_card.page, name="lead")
    r.add_post("/admin/leads/{lead_id}/send-again", lead_card.send_again, name="send_again")
    r.add_get("/admin/leads/{lead_id}/erase", erasure.confirm_page, name="erase_page")
    r.add_post("/admin/leads/{lead_id}/erase", erasure.erase_lead, name="erase_lead")
    r.add_get("/admin/tasks", queue.page, name="tasks")
    r.add_post("/admin/tasks/retry-failed", queue.retry_all, name="retry_all")
    r.add_post("/admin/tasks/{task_id}/retry", queue.retry_task, name="retry_task")
    r.add_get("/admin/connections", connections.page, name="connections")
    r.add_post("/admin/alert-chats/{chat_id}/unblock", alert_chats.unblock, name="unblock_chat")
    r.add_get("/admin/payments", payments.unmatched, name="payments")
    r.add_get("/admin/payments/{payment_id}/find", payments.find_lead, name="find_lead")
    r.add_post("/admin/payments/{payment_id}/attach", payments.attach, name="attach_payment")
    r.add_post("/admin/payments/{payment_id}/dismiss", payments.dismiss, name="dismiss_payment")
    r.add_post("/admin/payments/{payment_id}/reopen", payments.reopen, name="reopen_payment")
    r.add_post("/admin/problems/acknowledge", problems.acknowledge, name="acknowledge_problem")
    r.add_get("/admin/audit", audit_page.page, name="audit")
    r.add_get("/admin/audit.{kind:csv|xlsx}", audit_page.export, name="audit_download")
    r.add_get("/api/v1/stats", api.stats, name="api_stats")
    r.add_get("/api/v1/leads", api.leads, name="api_leads")
    r.add_get("/api/v1/leads/{lead_id}", api.lead, name="api_lead")
    r.add_get("/api/v1/leads/{lead_id}/events", api.lead_events, name="api_lead_events")
    r.add_static("/static/", HERE / "static", name="static")


async def dashboard_services(app: web.Application) -> AsyncIterator[None]:
    store, settings = app[appkeys.STORE], app[appkeys.SETTINGS]
    app[SESSIONS] = session_middleware(
        auth.session_storage(await auth.session_key(settings.dashboard, store))
    )
    app[QUERIES] = DashboardQueries(store, settings)
    app[REPLAYER] = await StreamReplayer().open()
    yield
    await app[REPLAYER].close()
