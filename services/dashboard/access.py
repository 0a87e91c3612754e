"""Who may do what: staff may take the actions that work with leads; every other action
(settings, connections, bulk work on tasks) and the pages in ADMIN_PAGES are for an admin and
are refused with a 403 page that says why."""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from common.errors import Forbidden
from common.model import Role
from common.web import Handler
from services.dashboard import auth, pages

log = logging.getLogger(__name__)

READING = {"GET", "HEAD", "OPTIONS"}
# The routes (by name) a staff member may post to. A new action is an admin's until it is
# listed here: forgetting to list one refuses staff, never lets them in.
STAFF_MAY = {
    "login",
    "logout",
    "lang",
    "retry_task",  # send one lead's failed task again (from /admin/tasks)
    "send_again",  # the same from the lead's card
    "attach_payment",  # give an unmatched payment its lead
    "dismiss_payment",  # say an unmatched payment is not ours
    "reopen_payment",  # bring a dismissed one back
}
# The pages (by route name) staff may not even read: the audit log names every user's
# actions and addresses.
ADMIN_PAGES = {"audit", "audit_download"}


@web.middleware
async def admin_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After require_login: a staff member's post to anything but STAFF_MAY is refused."""
    user, found = auth.current_user(request), request.match_info
    route = found.route.name
    if (
        (request.method in READING and route not in ADMIN_PAGES)
        or user is None
        or user.role is Role.ADMIN
        or route in STAFF_MAY
        or found.http_exception is not None  # no such page: its own 404 or 405
    ):
        return await handler(request)
    log.warning("action refused: admin only", extra={"route": route, "role": user.role.value})
    t = pages.words(request)
    action = t(f"action_{route}") if f"action_{route}" in t.texts else t("action_other")
    reason = t("admin_only", action=action, name=user.name)
    if request.path.startswith("/api/"):
        raise Forbidden(reason, code="admin_only")
    context = {"reason": reason}
    return aiohttp_jinja2.render_template("forbidden.html", request, context, status=403)
