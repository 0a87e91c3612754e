"""Yandex Metrica's offline-conversion upload on the wire: OAuth, multipart CSV, checked rows.

From the Metrica Management API docs ("Uploading offline conversions", "Passing offline
conversions", "Errors"): POST …/offline_conversions/upload with a CSV in the multipart
field `file`, columns Yclid/ClientId/UserId, Target, DateTime (Unix seconds, in the past),
Price, Currency; the answer is {"uploading": {id, line_quantity, status, …}}; a bad file
is 400 with {"errors": [{error_type, message}]}; a bad token 401 invalid_token; no access
to the counter 403; too many requests 429.

"Information about an upload of offline conversions" (GET …/offline_conversions/uploading/
{id}): an accepted file is processed later, "up to 2 hours" (the upload reference); its
status goes PREPARED → UPLOADED → EXPORTED → MATCHED → PROCESSED, or LINKAGE_FAILURE when
no row matched a visitor, and the uploading then counts linked_quantity,
user_not_found_quantity and goal_not_found_quantity: per upload, never per row.

"Uploading offline conversions" takes an optional `comment` query parameter (up to 255
characters: digits, Latin and Cyrillic letters), shown again on the uploading; "List of
uploads of offline conversions" (GET …/offline_conversions/uploadings, limit 10,000 by
default) lists the counter's uploadings with their comments.

GET …/offline_conversions/visit_join_threshold ("getVisitJoinThreshold"): the reference page
itself was not available to read; this answers {"date": …}, the one field the rym client
(CRAN, rym_allow_offline_conversion: "the date and time from which conversions can be linked
to visits") reads, as an ISO-8601 UTC date-time like the uploadings' create_time. The
"Transmitting offline conversions" guide: the window grows after offline conversions are
enabled, up to 21 days. Errors as on every call: 401 invalid_token, 403 access_denied.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import time
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from aiohttp import BodyPartReader, web

from common import clock
from tests.emulators.faults import Emulator, control_routes

ID_COLUMNS = {"Yclid", "ClientId", "UserId"}
REST = ["Target", "DateTime", "Price", "Currency"]


class Metrica(Emulator):
    def __init__(self, token: str, counter_id: int):
        super().__init__()
        self.token = token
        self.counter_id = counter_id
        self.ids = itertools.count(9001)
        self.uploads: list[list[dict[str, str]]] = []  # each upload's rows
        self.uploadings: dict[int, dict[str, object]] = {}  # by id, as Metrica shows them
        self.files: dict[int, list[dict[str, str]]] = {}  # each uploading's rows, by id
        # How many looks at an uploading still find it unprocessed (Metrica takes its time).
        self.looks_before_processed = 1
        self.looks: dict[int, int] = {}
        # Keep this many accepted uploads but cut the connection before answering, as a
        # proxy time-out or a network cut after Metrica has stored the file does.
        self.lose_answers = 0
        # Yclids / ClientIds Metrica has seen visit the site; None: every one it is sent.
        self.visitors: set[str] | None = None
        # Bodies the next looks at an uploading get instead of it (an HTML error page from a
        # proxy, a list, `null`): what a hostile or broken answer looks like on the wire.
        self.junk_looks: list[tuple[str, str]] = []  # (content type, body)
        # The same for the next lists of uploadings ("List of uploads of offline conversions"
        # answers {"uploadings": [...]}): a 200 that lists nothing readable.
        self.junk_lists: list[tuple[str, str]] = []
        # The id the next accepted uploads are shown with instead of their own ("Information
        # about an upload": `id`, an integer): null, an object, a path.
        self.junk_ids: list[object] = []
        # The counter's window: visits this many days old still take a conversion (a counter
        # that enabled offline conversions long ago: 21; one that just did: from 1 up).
        self.threshold_days: float = 21
        # Answer visit_join_threshold alone with this documented error (401/403/429/503).
        self.threshold_refusal: int | None = None
        # Answer visit_join_threshold with this JSON instead (an answer of another shape).
        self.threshold_body: object = None
        self.threshold_reads = 0


def processed(metrica: Metrica, uploading: dict[str, object], rows: list[dict[str, str]]) -> None:
    """The counts Metrica shows once it has matched the rows to visitors."""
    known = [
        r
        for r in rows
        if metrica.visitors is None or (r.get("Yclid") or r.get("ClientId")) in metrica.visitors
    ]
    uploading["linked_quantity"] = len(known)
    uploading["user_not_found_quantity"] = len(rows) - len(known)
    uploading["goal_not_found_quantity"] = 0
    uploading["status"] = "PROCESSED" if known else "LINKAGE_FAILURE"


# Metrica API docs, "Errors": the message and error_type of each status a test may switch on.
DOCUMENTED = {
    401: ("Invalid oauth_token", "invalid_token"),
    403: ("Access denied", "access_denied"),
    429: ("Too many requests", "quota_requests_by_uid"),
    503: ("Service temporarily unavailable", "backend_error"),
}


def errors(status: int, message: str, error_type: str = "invalid_parameter") -> web.Response:
    body = {
        "errors": [{"error_type": error_type, "message": message}],
        "code": status,
        "message": message,
    }
    return web.json_response(body, status=status)


def check_rows(text: str) -> tuple[list[dict[str, str]], str | None]:
    """The rows of the file, or what Metrica would say is wrong with it."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    ids = header[: len(header) - len(REST)]
    if header[len(ids) :] != REST or not ids or not set(ids) <= ID_COLUMNS:
        return [], f"bad header {','.join(header)}"
    rows = []
    for number, values in enumerate(reader, start=2):
        if len(values) != len(header):
            return [], f"line {number}: {len(values)} columns, expected {len(header)}"
        row = dict(zip(header, values, strict=True))
        if not any(row[i] for i in ids):
            return [], f"line {number}: no visitor identifier"
        if not row["Target"]:
            return [], f"line {number}: empty Target"
        if not row["DateTime"].isdigit() or int(row["DateTime"]) > time.time():
            return [], f"line {number}: DateTime must be Unix seconds in the past"
        try:
            Decimal(row["Price"])
        except InvalidOperation:
            return [], f"line {number}: Price {row['Price']!r} is not a number"
        if not re.fullmatch(r"\d+(\.\d{1,2})?", row["Price"]):
            return [], f"line {number}: Price must use a dot"
        if not re.fullmatch(r"[A-Z]{3}", row["Currency"]):
            return [], f"line {number}: Currency must be an ISO 4217 code"
        rows.append(row)
    return (rows, None) if rows else ([], "the file has no rows")


async def file_field(request: web.Request) -> bytes | None:
    """The multipart part named `file`, read in memory (no temporary file to leak when the
    uploader is killed half-way, as the chaos tests do)."""
    if not request.content_type.startswith("multipart/"):
        return None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file":
            return await part.read()
    return None


def create_app(metrica: Metrica) -> web.Application:
    async def refuse(request: web.Request) -> web.Response | None:
        """Faults switched on by a test, then the token and the counter."""
        refusal = await metrica.gate(
            lambda: errors(429, "Too many requests", "quota_requests_by_uid"),
            lambda: errors(503, "Service temporarily unavailable", "backend_error"),
        )
        if refusal is not None:
            return refusal
        # Metrica API docs, "Errors": 401 invalid_token for a missing, wrong or expired
        # OAuth token; 403 access_denied when the token's user has no access to the counter.
        if request.headers.get("Authorization") != f"OAuth {metrica.token}":
            return errors(401, "Invalid oauth_token", "invalid_token")
        if request.match_info["counter"] != str(metrica.counter_id):
            return errors(403, "No access to counter", "access_denied")
        return None

    async def upload(request: web.Request) -> web.Response:
        refusal = await refuse(request)
        if refusal is not None:
            return refusal
        content = await file_field(request)
        if content is None:
            return errors(400, "multipart field 'file' is required")
        rows, problem = check_rows(content.decode("utf-8"))
        if problem:
            return errors(400, problem)
        metrica.uploads.append(rows)
        metrica.received.extend(rows)
        upload_id = next(metrica.ids)
        uploading: dict[str, object] = {
            "id": upload_id,
            "source_quantity": len(rows),
            "line_quantity": len(rows),
            "client_id_type": "YCLID" if "Yclid" in rows[0] else "CLIENT_ID",
            "status": "UPLOADED",
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+0300"),
        }
        comment = request.query.get("comment", "")
        if len(comment) > 255:
            return errors(400, "comment must be at most 255 characters")
        uploading["comment"] = comment
        metrica.uploadings[upload_id] = uploading
        metrica.files[upload_id] = rows
        metrica.looks[upload_id] = 0
        if metrica.lose_answers > 0:
            metrica.lose_answers -= 1
            assert request.transport is not None
            request.transport.abort()  # stored, but the client never hears of it
        if metrica.junk_ids:
            return web.json_response({"uploading": uploading | {"id": metrica.junk_ids.pop(0)}})
        return web.json_response({"uploading": uploading})

    async def uploadings(request: web.Request) -> web.Response:
        """ "List of uploads of offline conversions": limit (10,000 by default) and offset."""
        refusal = await refuse(request)
        if refusal is not None:
            return refusal
        limit = int(request.query.get("limit", "10000"))
        offset = int(request.query.get("offset", "0"))
        if metrica.junk_lists:
            content_type, text = metrica.junk_lists.pop(0)
            return web.Response(text=text, content_type=content_type)
        listed = list(metrica.uploadings.values())[offset : offset + limit]
        return web.json_response({"uploadings": listed})

    async def uploading(request: web.Request) -> web.Response:
        refusal = await refuse(request)
        if refusal is not None:
            return refusal
        upload_id = int(request.match_info["id"]) if request.match_info["id"].isdigit() else -1
        found = metrica.uploadings.get(upload_id)
        if found is None:  # "Errors": not_found (404), the specified object was not found
            return errors(404, "The specified object was not found", "not_found")
        metrica.looks[upload_id] += 1
        if metrica.junk_looks:
            content_type, text = metrica.junk_looks.pop(0)
            return web.Response(text=text, content_type=content_type)
        if (
            found["status"] == "UPLOADED"
            and metrica.looks[upload_id] > metrica.looks_before_processed
        ):
            processed(metrica, found, metrica.files[upload_id])
        return web.json_response({"uploading": found})

    async def visit_join_threshold(request: web.Request) -> web.Response:
        refusal = await refuse(request)
        if refusal is not None:
            return refusal
        metrica.threshold_reads += 1
        if metrica.threshold_refusal is not None:
            return errors(metrica.threshold_refusal, *DOCUMENTED[metrica.threshold_refusal])
        if metrica.threshold_body is not None:
            return web.json_response(metrica.threshold_body)
        since = clock.now() - timedelta(days=metrica.threshold_days)
        return web.json_response({"date": since.strftime("%Y-%m-%dT%H:%M:%SZ")})

    app = web.Application()
    app.add_routes(
        [
            web.post("/management/v1/counter/{counter}/offline_conversions/upload", upload),
            web.get(
                "/management/v1/counter/{counter}/offline_conversions/uploading/{id}", uploading
            ),
            web.get("/management/v1/counter/{counter}/offline_conversions/uploadings", uploadings),
            web.get(
                "/management/v1/counter/{counter}/offline_conversions/visit_join_threshold",
                visit_join_threshold,
            ),
            *control_routes(metrica),
        ]
    )
    return app
