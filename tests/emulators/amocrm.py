"""AmoCRM on the wire: POST /api/v4/leads/complex and /api/v4/leads/notes, Bearer token.

From Kommo's API reference (amoCRM API v4): "Complex adding of leads" takes up to 50 leads
with embedded contacts and answers, per lead, {id, contact_id, company_id, request_id,
merged}; with duplicate control on, a lead whose contact matches an existing one is
joined to that lead: `merged: true` and the existing lead's id. "Adding notes" takes an
array of {entity_id, note_type, params} and answers {_embedded: {notes: [{id,
entity_id}]}}; a note on an unknown lead is refused with 400 and validation-errors.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from common import clock
from tests.emulators.faults import Emulator, control_routes

HTML_429 = "<html><head><title>429 Too Many Requests</title></head><body>Too Many</body></html>"


class AmoCrm(Emulator):
    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.ids = itertools.count(30_000_001)
        self.duplicate_control = False  # the account's duplicate control for this source
        self.by_phone: dict[str, int] = {}  # contact phone -> the lead created for it
        self.leads: set[int] = set()
        self.notes: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}  # lead id -> {status_id, price, updated_at}
        # Run one per list page answered, after it: a lead edited between two page requests.
        self.on_page: list[Callable[[], None]] = []
        self.always_next = False  # a hostile CRM: every list page says another follows
        # A hostile CRM: GET /api/v4/leads answers 200 with this text as it is (junk JSON, a
        # number no double holds, an HTML page) instead of the leads.
        self.list_text: str | None = None
        self.webhooks: list[dict[str, Any]] = []  # as GET /api/v4/webhooks lists them
        self.oauth = OAuthApp()

    def set_lead(
        self,
        lead_id: int,
        status_id: int,
        price: int,
        updated_at: int,
        closed_at: int | None = None,
    ) -> None:
        """A manager moved the lead (e.g. to 142, won) in amoCRM; `closed_at` is when it was
        closed (won or lost), `updated_at` its latest edit of any kind."""
        self.leads.add(lead_id)
        self.state[lead_id] = {
            "id": lead_id,
            "status_id": status_id,
            "pipeline_id": 1,
            "price": price,
            "updated_at": updated_at,
            "closed_at": closed_at,
        }


def _in_ranges(lead: dict[str, Any], query: Mapping[str, str]) -> bool:
    """Whether the lead falls within each filter[updated_at]/filter[closed_at] range."""
    for name in ("updated_at", "closed_at"):
        low, high = query.get(f"filter[{name}][from]"), query.get(f"filter[{name}][to]")
        value = lead.get(name)
        if (low is not None or high is not None) and value is None:
            return False
        if low is not None and value < int(low) or high is not None and value > int(high):
            return False
    return True


def shape_problem(body: Any) -> str | None:
    """What is wrong with a complex-leads body, as AmoCRM would reject it."""
    if not isinstance(body, list) or not 1 <= len(body) <= 50:
        return "body must be an array of 1 to 50 leads"
    for lead in body:
        contacts = lead.get("_embedded", {}).get("contacts")
        if not isinstance(lead.get("name"), str) or not contacts:
            return "each lead needs a name and an embedded contact"
        for contact in contacts:
            for item in contact.get("custom_fields_values", []):
                if item.get("field_code") not in ("PHONE", "EMAIL"):
                    return f"unknown contact field_code {item.get('field_code')}"
                if not all(v.get("value") and v.get("enum_code") for v in item["values"]):
                    return "contact values need value and enum_code"
        for tag in lead["_embedded"].get("tags", []):
            if not tag.get("name"):
                return "a tag needs a name"
    return None


def contact_phone(lead: dict[str, Any]) -> str | None:
    for contact in lead.get("_embedded", {}).get("contacts", []):
        for item in contact.get("custom_fields_values", []):
            if item.get("field_code") == "PHONE" and item.get("values"):
                return str(item["values"][0].get("value"))
    return None


def create_app(amo: AmoCrm) -> web.Application:
    async def complex_leads(request: web.Request) -> web.Response:
        refusal = await amo.gate(
            lambda: web.Response(status=429, text=HTML_429, content_type="text/html"),
            lambda: web.json_response({"title": "Service Unavailable", "status": 503}, status=503),
        )
        if refusal is not None:
            return refusal
        if request.headers.get("Authorization") != f"Bearer {amo.token}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        body = await request.json()
        problem = shape_problem(body)
        if problem:
            answer = {"title": "Bad Request", "status": 400, "validation-errors": [problem]}
            return web.json_response(answer, status=400)
        created = []
        for lead in body:
            amo.received.append(lead)
            phone = contact_phone(lead)
            existing = amo.by_phone.get(phone) if amo.duplicate_control and phone else None
            lead_id = existing or next(amo.ids)
            amo.leads.add(lead_id)
            if phone and existing is None:
                amo.by_phone[phone] = lead_id
            created.append(
                {
                    "id": lead_id,
                    "contact_id": lead_id + 1,
                    "company_id": None,
                    "request_id": [lead.get("request_id", "0")],
                    "merged": existing is not None,
                }
            )
        return web.json_response(created)

    async def list_leads(request: web.Request) -> web.Response:
        """GET /api/v4/leads per Kommo's API reference ("Leads list", "API Filtration"):
        filter[id] (one id or an array), filter[updated_at]/filter[closed_at] with [from] and
        [to] (Unix seconds, both ends included), order[id|created_at|updated_at]=asc|desc,
        limit (at most 250) and page; HAL answer with _links.next while more remain; 204 when
        nothing matches."""
        if request.headers.get("Authorization") != f"Bearer {amo.token}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        if amo.list_text is not None:
            return web.Response(text=amo.list_text, content_type="application/json")
        query = request.query
        limit = min(int(query.get("limit", "50")), 250)
        page = int(query.get("page", "1"))
        # "API Filtration": filter[id] takes one id or an array, filter[id][]=1&filter[id][]=2.
        ids = {int(v) for v in query.getall("filter[id][]", []) + query.getall("filter[id]", [])}
        leads = [
            lead
            for lead in amo.state.values()
            if _in_ranges(lead, query) and (not ids or lead["id"] in ids)
        ]
        for key, direction in query.items():
            if key in ("order[id]", "order[created_at]", "order[updated_at]"):
                field = key[len("order[") : -1]
                leads.sort(key=lambda lead, f=field: lead.get(f) or 0, reverse=direction == "desc")
        chunk = leads[(page - 1) * limit : page * limit]
        if amo.on_page:  # a manager's edit between this page and the next
            amo.on_page.pop(0)()
        if not chunk:
            return web.Response(status=204)
        links: dict[str, Any] = {"self": {"href": str(request.url)}}
        if page * limit < len(leads) or amo.always_next:
            links["next"] = {"href": str(request.url.update_query(page=str(page + 1)))}
        return web.json_response({"_page": page, "_links": links, "_embedded": {"leads": chunk}})

    async def webhooks(request: web.Request) -> web.Response:
        """GET /api/v4/webhooks per Kommo's API reference ("List of webhooks"): for
        administrators; filter[destination] (the exact URL); each hook has id, destination,
        disabled and settings. amoCRM switches a hook off (disabled) after more than 100
        answers outside 2xx within two hours."""
        if request.headers.get("Authorization") != f"Bearer {amo.token}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        wanted = request.query.get("filter[destination]")
        hooks = [h for h in amo.webhooks if wanted is None or h["destination"] == wanted]
        if not hooks:
            return web.Response(status=204)
        return web.json_response({"_total_items": len(hooks), "_embedded": {"webhooks": hooks}})

    async def notes(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {amo.token}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        body = await request.json()
        problems = [
            f"note {n}: unknown entity_id or empty text"
            for n, note in enumerate(body if isinstance(body, list) else [None])
            if not isinstance(note, dict)
            or note.get("entity_id") not in amo.leads
            or note.get("note_type") != "common"
            or not (note.get("params") or {}).get("text")
        ]
        if problems:
            answer = {"title": "Bad Request", "status": 400, "validation-errors": problems}
            return web.json_response(answer, status=400)
        made = []
        for note in body:
            amo.notes.append(note)
            made.append({"id": len(amo.notes), "entity_id": note["entity_id"]})
        return web.json_response({"_embedded": {"notes": made}})

    app = web.Application()
    app.add_routes(
        [
            web.post("/api/v4/leads/complex", complex_leads),
            web.post("/api/v4/leads/notes", notes),
            web.get("/api/v4/leads", list_leads),
            web.get("/api/v4/webhooks", webhooks),
            *control_routes(amo),
            *oauth_routes(amo),
        ]
    )
    app.middlewares.append(expired_tokens(amo))
    return app


# What a manager does to a lead after it was won, and the webhook amoCRM then sends. Kommo's
# developer docs, "Webhooks" (docs/webhooks-general): the events "Lead stage (status)
# changed" (leads[status][N][…]: id, status_id, old_status_id, pipeline_id, price, …), "Lead
# edited" (leads[update][N][…], the same fields) and "Lead deleted" (leads[delete][N][…]: id,
# status_id, pipeline_id), posted as application/x-www-form-urlencoded. Status 142 is won,
# 143 lost (Kommo's "Leads pipelines and stages": the two fixed closing stages).
def change_lead(amo: AmoCrm, lead_id: int, section: str, **fields: int) -> dict[str, str]:
    """Change the lead's state (its status or price) and return the webhook's form."""
    before = amo.state[lead_id]
    # The CRM's clock is the world's: common.clock, which a test may move ahead.
    edited = max(before["updated_at"] + 1, int(clock.now().timestamp()))
    after = before | fields | {"updated_at": edited}
    amo.state[lead_id] = after
    form = {"account[subdomain]": "shop"}
    shown = {**after, "old_status_id": before["status_id"]} if section == "status" else after
    for key in ("id", "status_id", "old_status_id", "pipeline_id", "price", "updated_at"):
        if key in shown:
            form[f"leads[{section}][0][{key}]"] = str(shown[key])
    return form


def delete_lead(amo: AmoCrm, lead_id: int) -> dict[str, str]:
    """The lead is deleted in amoCRM: gone from the list, and the "Lead deleted" webhook."""
    gone = amo.state.pop(lead_id)
    amo.leads.discard(lead_id)
    return {
        "account[subdomain]": "shop",
        "leads[delete][0][id]": str(lead_id),
        "leads[delete][0][status_id]": str(gone["status_id"]),
        "leads[delete][0][pipeline_id]": str(gone["pipeline_id"]),
    }


def won_total(amo: AmoCrm) -> int:
    """What amoCRM's own report would say was won: the budgets of leads in status 142."""
    return sum(lead["price"] for lead in amo.state.values() if lead["status_id"] == 142)


@dataclass
class OAuthApp:
    """An OAuth integration of the account (Settings → Integrations), per amoCRM's "OAuth 2.0,
    step by step" (amocrm.com/developers/content/oauth/step-by-step) and Kommo's API
    reference "Get token" (developers.kommo.com/reference/get-token): an authorization code
    works once; each refresh answers a new pair and the refresh token it spent is refused
    from then on; an access token lives `lifetime` seconds (24 hours) and an expired one
    is answered 401."""

    client_id: str = "oauth-client"
    client_secret: str = "oauth-client-secret"
    redirect_uri: str = "https://leads.example.ru/amocrm/oauth"
    lifetime: int = 86400
    codes: set[str] = field(default_factory=set)  # authorization codes not yet exchanged
    refresh_tokens: set[str] = field(default_factory=set)  # issued and not yet spent
    expired: set[str] = field(default_factory=set)  # access tokens past their lifetime
    grants: list[str] = field(default_factory=list)  # grant_type of every token request
    bodies: list[dict[str, Any]] = field(default_factory=list)  # what each request sent
    hold: asyncio.Event | None = None  # when set up, token answers wait until it is set
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))


def oauth_refusal(status: int, hint: str) -> web.Response:
    """amoCRM's OAuth errors: a problem+json body with a hint, 400 for a bad grant (a used or
    expired code or refresh token) and 401 for wrong client credentials."""
    body = {"hint": hint, "title": "Некорректный запрос", "status": status, "detail": hint}
    return web.json_response(body, status=status, content_type="application/problem+json")


def oauth_routes(amo: AmoCrm) -> list[web.RouteDef]:
    async def access_token(request: web.Request) -> web.Response:
        oauth = amo.oauth
        body = await request.json()
        oauth.bodies.append(body)
        oauth.grants.append(str(body.get("grant_type")))
        if oauth.hold is not None:
            await oauth.hold.wait()
        if (body.get("client_id"), body.get("client_secret")) != (
            oauth.client_id,
            oauth.client_secret,
        ):
            return oauth_refusal(401, "Client authentication failed")
        if body.get("redirect_uri") != oauth.redirect_uri:
            return oauth_refusal(400, "redirect_uri does not match")
        grant = body.get("grant_type")
        if grant == "authorization_code" and body.get("code") in oauth.codes:
            oauth.codes.discard(body["code"])
        elif grant == "refresh_token" and body.get("refresh_token") in oauth.refresh_tokens:
            oauth.refresh_tokens.discard(body["refresh_token"])
        else:
            return oauth_refusal(400, "Token has been revoked")
        n = next(oauth.numbers)
        amo.token = f"access-{n}"  # the API takes the newest access token only
        oauth.refresh_tokens.add(f"refresh-{n}")
        answer = {
            "token_type": "Bearer",
            "expires_in": oauth.lifetime,
            "access_token": amo.token,
            "refresh_token": f"refresh-{n}",
        }
        return web.json_response(answer)

    return [web.post("/oauth2/access_token", access_token)]


def expired_tokens(amo: AmoCrm) -> Any:
    """An access token past its 24 hours is answered 401, whatever the API method."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given and given in amo.oauth.expired:
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    return middleware
